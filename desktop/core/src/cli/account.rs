//! `cromulent login` and `cromulent logout`.

use std::io::BufRead;

use anyhow::Context as _;

use super::config::Remembered;
use super::Context;
use crate::account::device_name;
use crate::api::LoginRequest;
use crate::tokens::{Secret, TokenKey};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

pub async fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let server = ctx.server()?.clone();
    // The store is probed first: without one the login would be lost on exit, so do
    // not create a login on the server at all.
    let store = ctx.token_store().await?;
    if let Some(caveat) = store.backend().caveat() {
        eprintln!("cromulent: note: {caveat}");
    }
    let password = if args.password_stdin { read_stdin_line()? } else { prompt_password()? };
    let client = ctx.anonymous()?;
    let login = client
        .login(&LoginRequest::new(&args.email, password, &device_name("cromulent CLI")))
        .await
        .context("logging in")?;
    let key = TokenKey::new(&server, &args.email);
    let saved = {
        let (store, key, token) = (store.clone(), key.clone(), login.refresh_token.clone());
        tokio::task::spawn_blocking(move || store.store(&key, &token)).await.context("keyring task")?
    };
    if let Err(error) = saved {
        // Leave no live login behind that nobody holds.
        let _ = client.logout(&login.refresh_token).await;
        return Err(error).context("keeping the login in the keyring");
    }
    ctx.remember(&Remembered { server: Some(server.to_string()), account: Some(args.email.clone()) })?;
    println!("logged in to {server} as {} (token kept in the {})", login.user.user.username, store.backend());
    Ok(())
}

pub async fn logout(ctx: &Context) -> anyhow::Result<()> {
    let server = ctx.server()?.clone();
    let Some(account) = ctx.account().map(str::to_owned) else {
        println!("not logged in to {server}");
        return Ok(());
    };
    let store = ctx.token_store().await?;
    let key = TokenKey::new(&server, &account);
    let token = {
        let (store, key) = (store.clone(), key.clone());
        tokio::task::spawn_blocking(move || store.load(&key)).await.context("keyring task")??
    };
    if let Some(token) = token {
        ctx.anonymous()?.logout(&token).await.context("ending the login on the server")?;
        let (store, key) = (store.clone(), key.clone());
        tokio::task::spawn_blocking(move || store.delete(&key)).await.context("keyring task")??;
    }
    let mut remembered = ctx.remembered().clone();
    remembered.account = None;
    ctx.remember(&remembered)?;
    println!("logged out of {server}");
    Ok(())
}

fn read_stdin_line() -> anyhow::Result<Secret> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
    let password = Secret::from(line.trim_end_matches(['\r', '\n']));
    // Wipe the buffer's copy too.
    zeroize::Zeroize::zeroize(&mut line);
    anyhow::ensure!(!password.expose().is_empty(), "no password on stdin");
    Ok(password)
}

fn prompt_password() -> anyhow::Result<Secret> {
    let password = rpassword::prompt_password("Password: ").context("reading the password")?;
    Ok(Secret::from(password))
}
