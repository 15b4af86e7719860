//! Files in the data directory: only the server's own user may read them. The SQLite database,
//! generated secrets, the development mail outbox and the simulator's keys all live there, so
//! directories are made 0700 and files 0600 whatever the process umask.

use std::io::Write;
use std::path::Path;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) and makes `dir` itself 0700, also when it existed.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    restrict(dir, DIR_MODE)
}

/// Creates `path` empty with mode 0600 unless it exists; an existing file is made 0600.
pub fn create_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    drop(options.open(path)?);
    restrict(path, FILE_MODE)
}

/// Writes a new file with mode 0600; fails if it exists (`create_new`).
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes an existing file 0600 (a SQLite `-wal`/`-shm` file made before this version).
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        restrict(path, FILE_MODE)?;
    }
    Ok(())
}

fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
