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

/// To the owner of an address someone tried to register again: registration answers
/// the same either way, so only the owner learns the address is taken.
pub fn already_registered(to: &str, username: &str, login_link: &str, reset_link: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Someone tried to register with your Cromulent address".into(),
        body: format!(
            "Hi {username},\n\nsomeone (maybe you) tried to create an account with this address, \
             which already has one. Sign in here:\n\n{login_link}\n\n\
             Forgot your password? Choose a new one here:\n\n{reset_link}\n\n\
             If this was not you, ignore this mail; nothing was changed.\n"
        ),
    }
}

/// To the owner of an address another account tried to move to.
pub fn address_in_use(to: &str, username: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.to_owned(),
        subject: "Someone tried to move a Cromulent account to your address".into(),
        body: format!(
            "Hi {username},\n\nanother account asked to change its address to this one, which is \
             already yours. Nothing was changed. If it was you, delete or rename one of the accounts \
             first.\n"
        ),
    }
}
