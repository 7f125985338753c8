//! Appends the store's outbox to the output file exactly once, across crashes.
//!
//! A batch's output lines commit with the batch (table `outbox`). After the commit they are
//! appended to the file and synced, and only then marked written together with the file's new
//! length. A crash between the append and the mark leaves lines in the file that the store
//! does not know about; the next flush first cuts the file back to the recorded length, so
//! those lines are written once, not twice. A torn last line is cut the same way.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, Result};

use super::{OutputMark, Store};

/// Writes every pending outbox line to `path` and marks it written; returns how many.
pub fn flush_outbox(store: &mut dyn Store, path: &Path) -> Result<usize> {
    let pending = store.output_pending()?;
    let Some(&(last, _)) = pending.last() else {
        return Ok(0);
    };
    let io = |action: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("cannot create the directory of"))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("cannot open for writing"))?;
    let len = file
        .metadata()
        .map_err(io("cannot read the size of"))?
        .len();
    let start = match store.output_mark()? {
        Some(mark) if mark.path == path && mark.len <= len => {
            if mark.len < len {
                tracing::warn!(
                    path = %path.display(),
                    bytes = len - mark.len,
                    "output past the last recorded write (an interrupted run) is cut and written again"
                );
                file.set_len(mark.len).map_err(io("cannot truncate"))?;
            }
            mark.len
        }
        Some(mark) if mark.path == path => {
            tracing::warn!(
                path = %path.display(),
                recorded = mark.len,
                size = len,
                "output file is shorter than recorded (rotated or truncated?); appending at its end"
            );
            len
        }
        _ => {
            // First write to this file: record where we start before writing, so a crash
            // before the first mark cannot leave lines that get written again.
            store.output_written(
                0,
                &OutputMark {
                    path: path.to_path_buf(),
                    len,
                },
            )?;
            len
        }
    };
    file.seek(SeekFrom::Start(start))
        .map_err(io("cannot seek in"))?;
    let mut buf = Vec::new();
    for (_, line) in &pending {
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    file.write_all(&buf).map_err(io("cannot write to"))?;
    file.sync_data().map_err(io("cannot sync"))?;
    store.output_written(
        last,
        &OutputMark {
            path: path.to_path_buf(),
            len: start + buf.len() as u64,
        },
    )?;
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Batch, SqliteStore};

    fn queue(store: &mut SqliteStore, lines: &[&str]) {
        let batch = Batch {
            lines: lines.iter().map(|l| l.to_string()).collect(),
            ..Batch::default()
        };
        store.commit(&batch).unwrap();
    }

    #[test]
    fn lines_written_but_not_marked_before_a_crash_are_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        queue(&mut store, &["{\"n\":1}"]);
        assert_eq!(flush_outbox(&mut store, &out).unwrap(), 1);
        queue(&mut store, &["{\"n\":2}", "{\"n\":3}"]);
        // The crash: the lines reached the file (the last one torn) but were never marked.
        let mut f = OpenOptions::new().append(true).open(&out).unwrap();
        f.write_all(b"{\"n\":2}\n{\"n\":").unwrap();
        drop(f);
        assert_eq!(flush_outbox(&mut store, &out).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
        );
        assert!(store.output_pending().unwrap().is_empty());
        assert_eq!(flush_outbox(&mut store, &out).unwrap(), 0);
    }

    #[test]
    fn a_crash_before_the_first_mark_keeps_what_the_file_held_before() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        std::fs::write(&out, "old\n").unwrap();
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        queue(&mut store, &["new"]);
        // Mark where the file starts, as the first flush does before writing, then "crash"
        // after writing without the final mark.
        store
            .output_written(
                0,
                &OutputMark {
                    path: out.clone(),
                    len: 4,
                },
            )
            .unwrap();
        std::fs::write(&out, "old\nnew\n").unwrap();
        flush_outbox(&mut store, &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\nnew\n");
    }

    #[test]
    fn a_file_shorter_than_recorded_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let mut store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        queue(&mut store, &["a", "b"]);
        flush_outbox(&mut store, &out).unwrap();
        std::fs::write(&out, "").unwrap(); // rotated
        queue(&mut store, &["c"]);
        flush_outbox(&mut store, &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "c\n");
    }
}
