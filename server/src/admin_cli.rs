//! `cromulent-server user …`: account administration from the shell.

use std::io::BufRead;

use anyhow::{bail, Context};
use cromulent_protocol::user::Role;

use crate::config::{Config, UserCommand};
use crate::ids::{now_ms, IdGenerator};
use crate::store::users::NewUser;
use crate::store::Unique;
use crate::{auth::password::PasswordHasher, open_database, store, validate};

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let db = open_database(&config).await?;
    match command {
        UserCommand::Create { email, username, admin } => {
            let email = validate::email(&email)?;
            let username = validate::username(&username)?;
            let password = read_password()?;
            validate::password(&password, "password")?;
            let hash = PasswordHasher::new().hash(password).await?;
            let id = IdGenerator::new(config.node_id).next();
            let now = now_ms();
            let mut tx = db.begin_write().await?;
            if store::users::find_by_email(&mut *tx, &email).await?.is_some() {
                bail!("{email} is already registered");
            }
            if store::users::username_unavailable(&mut tx, &username).await? {
                bail!("the username {username} is taken");
            }
            let role = if admin { Role::Admin } else { Role::Member };
            let user = NewUser {
                id,
                email: &email,
                username: &username,
                password_hash: &hash,
                role,
                email_confirmed_at: Some(now),
                created_at: now,
            };
            // The checks above lose a race with a concurrent registration; the
            // constraint then names what was taken.
            store::users::create_with_defaults(&mut tx, &user).await.map_err(
                |e| match Unique::violated_by(&e) {
                    Some(taken) => anyhow::anyhow!("{}", taken.message()),
                    None => e.into(),
                },
            )?;
            tx.commit().await?;
            println!("created {username} <{email}> ({}) with id {id}", store::users::role_to_db(role));
        }
        UserCommand::Promote { email } => {
            let email = validate::email(&email)?;
            let user = store::users::find_by_email(db.pool(), &email)
                .await?
                .with_context(|| format!("no account for {email}"))?;
            store::users::set_role(db.pool(), user.id, Role::Admin).await?;
            println!("{} is now an admin", user.username);
        }
        UserCommand::List => {
            for user in store::users::list(db.pool()).await? {
                let confirmed = if user.email_confirmed_at.is_some() { "confirmed" } else { "unconfirmed" };
                println!(
                    "{}\t{}\t{}\t{}\t{confirmed}",
                    user.id,
                    user.username,
                    user.email,
                    store::users::role_to_db(user.role)
                );
            }
        }
    }
    db.close().await;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    eprintln!("password (read from standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
