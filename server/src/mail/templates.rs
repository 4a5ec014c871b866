//! The text of every mail the server sends.

use super::OutgoingMail;

pub fn confirm_account(to: &str, username: &str, link: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Confirm your Cromulent account".into(),
        body: format!(
            "Hi {username},\n\nconfirm your account by opening this link:\n\n{link}\n\n\
             If you did not create an account, ignore this mail.\n"
        ),
    }
}

pub fn reset_password(to: &str, username: &str, link: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Reset your Cromulent password".into(),
        body: format!(
            "Hi {username},\n\nchoose a new password by opening this link within an hour:\n\n{link}\n\n\
             If you did not ask for this, ignore this mail; your password stays as it is.\n"
        ),
    }
}

pub fn change_email(to: &str, username: &str, link: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Confirm your new Cromulent email address".into(),
        body: format!(
            "Hi {username},\n\nconfirm that this is your new address by opening this link:\n\n{link}\n\n\
             If you did not ask for this, ignore this mail.\n"
        ),
    }
}
