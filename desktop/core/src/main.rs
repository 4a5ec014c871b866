//! `cromulent`: a headless Cromulent client for people, scripts, bots and load tests.

fn main() -> std::process::ExitCode {
    cromulent_client::cli::main()
}
