use std::process::ExitCode;

use clap::Parser;

/// Each argon2 verification allocates 19 MiB. glibc's dynamic mmap threshold grows to that size
/// after the first free, so later buffers come from the heap and are kept: the server measured
/// 18 MiB idle but ~880 MiB after a burst of logins. A fixed threshold keeps such buffers on
/// mmap, returned to the system when freed (about 6 % slower hashing, memory back to ~25 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}

/// Whatever this process creates is for its own user only, also files that no code of ours
/// names (SQLite's journals, temporary files of libraries).
#[cfg(unix)]
fn private_umask() {
    // SAFETY: umask only sets the process's file creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(not(unix))]
fn private_umask() {}

fn main() -> ExitCode {
    return_large_buffers_to_the_system();
    private_umask();
    let cli = leasify_id::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(leasify_id::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line_reason(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once: our errors already include their
/// cause's text, which `{:#}` would repeat for every layer.
fn one_line_reason(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
