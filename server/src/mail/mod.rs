//! Outgoing mail: SMTP through lettre in production, an in-memory mailbox in development.

pub mod dev_mailbox;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, SmtpSecurity};
pub use dev_mailbox::DevMailbox;

/// One mail to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// Bad SMTP settings; fix the configuration.
    #[error("invalid mail settings: {0}")]
    Config(String),
    /// The address or headers could not be put in a message; not retryable.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SMTP server refused or could not be reached; retryable.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Mailbox(Arc<DevMailbox>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Mailbox(_) => "dev mailbox",
        };
        f.debug_struct("Mailer").field("transport", &kind).finish()
    }
}

/// Attempts per mail before it is given up and logged.
const SMTP_ATTEMPTS: u32 = 3;

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        let from: Mailbox =
            config.smtp.from.parse().map_err(|e| MailError::Config(format!("SMTP_FROM: {e}")))?;
        if config.dev_mailbox() {
            return Ok(Self { transport: Transport::Mailbox(Arc::new(DevMailbox::default())), from });
        }
        let smtp = &config.smtp;
        let host = smtp.host.as_deref().ok_or_else(|| {
            MailError::Config(
                "no way to deliver mail: set SMTP_HOST, or DEV_MAILBOX=true to keep mail in memory \
                     and show it at /dev/mailbox to this machine and to admins (on by default only \
                     when BIND is a loopback address)"
                    .into(),
            )
        })?;
        let builder = match smtp.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let port = smtp.port.unwrap_or(match smtp.security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::None => 25,
        });
        let mut builder = builder.port(port).timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Self { transport: Transport::Smtp(builder.build()), from })
    }

    /// The development mailbox, when that is where mail goes.
    pub fn dev_mailbox(&self) -> Option<&DevMailbox> {
        match &self.transport {
            Transport::Mailbox(mailbox) => Some(mailbox),
            Transport::Smtp(_) => None,
        }
    }

    pub fn delivers_real_mail(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Sends without making the caller wait, so a response takes as long whether or not
    /// a mail went out (no account enumeration by timing). Failures are logged.
    pub fn deliver(&self, mail: OutgoingMail) {
        match &self.transport {
            Transport::Mailbox(mailbox) => mailbox.store(&mail),
            Transport::Smtp(_) => {
                let mailer = self.clone();
                tokio::spawn(async move {
                    for attempt in 1..=SMTP_ATTEMPTS {
                        match mailer.send_now(&mail).await {
                            Ok(()) => return,
                            Err(MailError::Smtp(e)) if attempt < SMTP_ATTEMPTS && !e.is_permanent() => {
                                tracing::warn!(error = %e, attempt, "mail delivery failed; retrying");
                                tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))).await;
                            }
                            Err(e) => {
                                tracing::error!(error = %e, subject = %mail.subject, "mail not delivered");
                                return;
                            }
                        }
                    }
                });
            }
        }
    }

    /// Sends and waits for the SMTP server's answer.
    pub async fn send_now(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        match &self.transport {
            Transport::Mailbox(mailbox) => {
                mailbox.store(mail);
                Ok(())
            }
            Transport::Smtp(smtp) => {
                let to: Mailbox = mail.to.parse().map_err(|e| MailError::Build(format!("{e}")))?;
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.body.clone())
                    .map_err(|e| MailError::Build(e.to_string()))?;
                smtp.send(message).await?;
                Ok(())
            }
        }
    }
}
