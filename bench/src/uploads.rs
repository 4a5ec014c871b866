//! Attachment upload throughput and the server's memory while `clients` accounts each
//! upload `files` files of `mib` MiB at the same time: uploads stream through a spool
//! file, so the server's RSS must stay flat however large or many the files are.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use cromulent_client::api::FileUpload;

use crate::account::{anonymous, new_account};
use crate::report::{print_reproduce, print_table};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};

#[derive(Debug, Clone, Args)]
pub struct UploadsArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    /// Concurrent uploaders, each its own account.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Files each uploader sends, one after the other.
    #[arg(long, default_value_t = 3)]
    pub files: usize,
    /// Size of each file in MiB (the server's ATTACHMENT_MAX_BYTES is 25 MiB).
    #[arg(long, default_value_t = 25)]
    pub mib: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: UploadsArgs) -> anyhow::Result<()> {
    let bytes = args.mib * 1024 * 1024;
    let launch = Launch {
        db: args.db,
        env: vec![
            ("ATTACHMENT_MAX_BYTES".into(), bytes.to_string()),
            ("ATTACHMENT_UPLOADS_PER_USER_PER_MINUTE".into(), (args.files + 10).to_string()),
        ],
    };
    let server = Server::start(&args.server, &launch).await?;
    let anonymous = anonymous(&server.base_url())?;
    let mut accounts = Vec::with_capacity(args.clients);
    for c in 0..args.clients {
        accounts.push(new_account(&anonymous, &format!("uploader{c}")).await?);
    }
    let channel = accounts.first().context("at least one client")?.general().await?;
    // Distinct random bytes per client: identical files would be stored once, and
    // random bytes are what a compressed file looks like.
    let dir = std::env::temp_dir().join(format!("cromulent-upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut files = Vec::with_capacity(args.clients);
    let mut paths = Vec::with_capacity(args.clients);
    for c in 0..args.clients {
        let path = dir.join(format!("file{c}.bin"));
        let mut data = vec![0u8; usize::try_from(bytes)?];
        rand::Rng::fill(&mut rand::thread_rng(), &mut data[..]);
        std::fs::write(&path, &data)?;
        files.push(FileUpload::open(&path).await?);
        paths.push(path);
    }
    // One small upload first, so lazily built state is not counted as upload memory.
    let warm = dir.join("warm.bin");
    std::fs::write(&warm, b"warm-up")?;
    accounts[0].client.upload_attachment(channel, &FileUpload::open(&warm).await?).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_kib()?;

    let sampling = Arc::new(AtomicBool::new(true));
    let pid = server.pid();
    let sampler = {
        let sampling = Arc::clone(&sampling);
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(crate::server::proc_rss_kib(pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (account, file) in accounts.into_iter().zip(files) {
        let count = args.files;
        tasks.spawn(async move {
            let mut samples = Samples::with_capacity(count);
            for _ in 0..count {
                let t0 = Instant::now();
                account.client.upload_attachment(channel, &file).await?;
                samples.record(t0.elapsed());
            }
            anyhow::Ok(samples)
        });
    }
    let mut samples = Samples::with_capacity(args.clients * args.files);
    while let Some(done) = tasks.join_next().await {
        samples.merge(done??);
    }
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let rss_peak = sampler.await?;
    let rss_after = server.rss_kib()?;
    let disk_rate = disk_copy_rate(&paths, &dir, args.files).await?;
    let _ = std::fs::remove_dir_all(&dir);

    let total_mib = (args.clients * args.files) as f64 * args.mib as f64;
    let upload_rate = total_mib / elapsed.as_secs_f64();
    print_table(
        &[
            "database",
            "uploads",
            "MiB each",
            "MiB/s",
            "disk copy MiB/s",
            "upload / copy",
            "p50 ms",
            "p99 ms",
            "RSS before MiB",
            "peak MiB",
            "after MiB",
        ],
        &[vec![
            args.db.label().to_owned(),
            format!("{} × {}", args.clients, args.files),
            args.mib.to_string(),
            format!("{upload_rate:.0}"),
            format!("{disk_rate:.0}"),
            format!("{:.2}", upload_rate / disk_rate),
            samples.percentile(50.0).map_or_else(|| "-".into(), ms),
            samples.percentile(99.0).map_or_else(|| "-".into(), ms),
            format!("{:.1}", rss_before as f64 / 1024.0),
            format!("{:.1}", rss_peak as f64 / 1024.0),
            format!("{:.1}", rss_after as f64 / 1024.0),
        ]],
    );
    print_reproduce("http-bench");
    Ok(())
}

/// The same run's baseline: the same files copied by as many threads at once into files
/// that are then fsynced — what the local store does with an upload (spool, fsync,
/// rename) without HTTP, multipart parsing and hashing in between.
async fn disk_copy_rate(paths: &[PathBuf], dir: &Path, times: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, source) in paths.iter().enumerate() {
        let (source, copy) = (source.clone(), dir.join(format!("copy{i}.bin")));
        tasks.spawn_blocking(move || -> anyhow::Result<u64> {
            let mut copied = 0;
            for _ in 0..times {
                let mut out = std::fs::File::create(&copy)?;
                copied += std::io::copy(&mut std::fs::File::open(&source)?, &mut out)?;
                out.sync_all()?;
            }
            Ok(copied)
        });
    }
    let mut bytes = 0;
    while let Some(done) = tasks.join_next().await {
        bytes += done??;
    }
    Ok(bytes as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64())
}
