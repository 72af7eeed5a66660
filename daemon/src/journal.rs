//! The write-ahead journal: append-only segment files holding every event and every state write,
//! in commit order. A group commit is one `write` plus one `fdatasync`; sled then applies the
//! state writes without its own fsync, and `redo` re-applies what sled had not flushed when the
//! daemon died. Events are read back from here, sequentially, for replay.
//!
//! Record: `len u32 | crc32(body) u32 | body`, body = `kind u8 | seq u64 | payload`.

use agentmux_proto::v1 as pb;
use agentmux_shared::{Error, Result};
use prost::Message as _;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

const KIND_EVENT: u8 = 1;
const KIND_OPS: u8 = 2;
const HEADER: usize = 8;
const BODY_PREFIX: usize = 9;
/// A new segment starts once the current one is this large (checked between group commits).
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// Larger records are corruption, not data.
const MAX_RECORD: u32 = 256 * 1024 * 1024;

fn decode_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("journal: cannot decode {what}: {e}"))
}

fn io_err(what: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull {
        return Error::disk_full(&format!("journal: {what}"));
    }
    Error::internal(format!("journal: {what}: {e}"))
}

/// A state write, journaled with the events of its commit and then applied to the store
/// atomically with them.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Del(Vec<u8>),
}

/// Where the journal stands: a segment (by its first seq) and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

impl Position {
    pub fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.segment.to_be_bytes());
        b[8..].copy_from_slice(&self.offset.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Position> {
        Some(Position {
            segment: u64::from_be_bytes(b.get(..8)?.try_into().ok()?),
            offset: u64::from_be_bytes(b.get(8..16)?.try_into().ok()?),
        })
    }
}

pub struct Journal {
    dir: PathBuf,
    /// First seqs of the segments, ascending.
    segments: RwLock<Vec<u64>>,
    writer: Mutex<Writer>,
}

struct Writer {
    file: File,
    segment: u64,
    len: u64,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.wal"))
}

/// A record read back from a segment.
enum Record {
    Event(Box<pb::Event>),
    Ops(Vec<Op>),
}

/// One open journal with the last event seq found in it.
pub struct Opened {
    pub journal: Arc<Journal>,
    pub last_seq: u64,
}

impl Journal {
    /// Opens (or creates) the journal, cutting off a torn tail left by a crash.
    pub fn open(dir: &Path) -> Result<Opened> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("create dir", e))?;
        let mut segments = list_segments(dir)?;
        if segments.is_empty() {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(segment_path(dir, 1))
                .map_err(|e| io_err("create segment", e))?;
            sync_dir(dir);
            segments.push(1);
        }
        let tail = *segments.last().unwrap_or(&1);
        let path = segment_path(dir, tail);
        let (valid_len, last_in_tail) = scan_valid(&path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("open segment", e))?;
        let on_disk = file.metadata().map_err(|e| io_err("stat", e))?.len();
        if on_disk > valid_len {
            tracing::warn!(
                segment = tail,
                cut = on_disk - valid_len,
                "cut a torn journal tail"
            );
            file.set_len(valid_len).map_err(|e| io_err("truncate", e))?;
            file.sync_data().map_err(|e| io_err("sync", e))?;
        }
        file.seek(SeekFrom::Start(valid_len))
            .map_err(|e| io_err("seek", e))?;
        // An empty tail segment was started right after the previous one's last event.
        let last_seq = last_in_tail.unwrap_or(tail - 1);
        Ok(Opened {
            journal: Arc::new(Journal {
                dir: dir.to_path_buf(),
                segments: RwLock::new(segments),
                writer: Mutex::new(Writer {
                    file,
                    segment: tail,
                    len: valid_len,
                }),
            }),
            last_seq,
        })
    }

    fn segments(&self) -> Vec<u64> {
        self.segments.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Appends one group commit and makes it durable. `next_seq` is the seq of the group's first
    /// event, used to name a new segment. Returns the position after the group.
    pub fn append(&self, next_seq: u64, buf: &[u8]) -> Result<Position> {
        let mut w = self
            .writer
            .lock()
            .map_err(|_| Error::internal("journal writer poisoned"))?;
        if w.len >= SEGMENT_BYTES && next_seq > w.segment {
            let path = segment_path(&self.dir, next_seq);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io_err("create segment", e))?;
            sync_dir(&self.dir);
            *w = Writer {
                file,
                segment: next_seq,
                len: 0,
            };
            if let Ok(mut s) = self.segments.write() {
                s.push(next_seq);
            }
        }
        let start = w.len;
        let res = w.file.write_all(buf).and_then(|()| w.file.sync_data());
        if let Err(e) = res {
            // Leave no half-written group behind: readers and redo stop at the old end.
            let _ = w.file.set_len(start);
            let _ = w.file.seek(SeekFrom::Start(start));
            return Err(io_err("append", e));
        }
        w.len += buf.len() as u64;
        Ok(Position {
            segment: w.segment,
            offset: w.len,
        })
    }

    /// State writes recorded after `from`, in order, for sled to re-apply at start-up.
    pub fn redo_since(&self, from: Position) -> Result<(Vec<Op>, Position)> {
        let mut ops = Vec::new();
        let mut end = from;
        for seg in self.segments().into_iter().filter(|s| *s >= from.segment) {
            let start = if seg == from.segment { from.offset } else { 0 };
            let mut r = SegmentReader::open(&segment_path(&self.dir, seg), start)?;
            while let Some(rec) = r.next_record()? {
                if let Record::Ops(o) = rec {
                    ops.extend(o);
                }
            }
            end = Position {
                segment: seg,
                offset: r.offset,
            };
        }
        Ok((ops, end))
    }

    /// A reader of events after `after`.
    pub fn cursor(self: &Arc<Self>, after: u64) -> Cursor {
        Cursor {
            journal: self.clone(),
            after,
            at: None,
            reader: None,
            pending: None,
        }
    }

    /// The events of the sessions `keep` accepts, newest segment first, each segment's events
    /// newest first. Only those are decoded (start-up reads this), and one this build cannot
    /// decode is skipped with a warning rather than failing the start.
    pub fn events_rev<'a>(
        &'a self,
        keep: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = Result<agentmux_shared::types::Event>> + 'a {
        let segs = self.segments();
        segs.into_iter().rev().flat_map(move |seg| {
            let mut v = Vec::new();
            match SegmentReader::open(&segment_path(&self.dir, seg), 0) {
                Ok(mut r) => loop {
                    match r.next_record() {
                        Ok(Some(Record::Event(e))) if keep(&e.session_id) => {
                            let seq = e.seq;
                            match agentmux_shared::types::Event::try_from(*e) {
                                Ok(e) => v.push(Ok(e)),
                                Err(err) => {
                                    tracing::warn!(error = %err, seq, "skipping an unreadable event")
                                }
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) => {
                            v.push(Err(e));
                            break;
                        }
                    }
                },
                Err(e) => v.push(Err(e)),
            }
            v.into_iter().rev()
        })
    }
}

/// Sequential reader of events, kept across replay chunks so each chunk continues where the
/// previous one stopped instead of seeking again.
pub struct Cursor {
    journal: Arc<Journal>,
    after: u64,
    /// The segment being read and the offset of its next whole record.
    at: Option<(u64, u64)>,
    reader: Option<SegmentReader>,
    /// An event read past `upto`, handed out by a later call.
    pending: Option<pb::Event>,
}

impl Cursor {
    /// Up to `limit` events with `after < seq <= upto`.
    pub fn next_batch(&mut self, upto: u64, limit: usize) -> Result<Vec<pb::Event>> {
        let mut out = Vec::new();
        while out.len() < limit && self.after < upto {
            if let Some(e) = self.pending.take() {
                if e.seq > upto {
                    self.pending = Some(e);
                    break;
                }
                self.after = e.seq;
                out.push(e);
                continue;
            }
            let (seg, offset) = match self.at {
                Some(at) => at,
                None => {
                    // The last segment whose first seq is <= after + 1 holds the next event.
                    let segs = self.journal.segments();
                    match segs.iter().rev().find(|s| **s <= self.after + 1) {
                        Some(s) => (*s, 0),
                        None => break,
                    }
                }
            };
            self.at = Some((seg, offset));
            if self.reader.is_none() {
                let path = segment_path(&self.journal.dir, seg);
                self.reader = Some(SegmentReader::open(&path, offset)?);
            }
            let Some(r) = self.reader.as_mut() else { break };
            let start = r.offset;
            match r.next_record()? {
                Some(Record::Event(e)) if e.seq > upto => {
                    // Not durable yet, and a failed group is cut and rewritten at this same
                    // offset: read it again next time rather than keep this copy.
                    self.at = Some((seg, start));
                    self.reader = None;
                    break;
                }
                Some(rec) => {
                    self.at = Some((seg, r.offset));
                    if let Record::Event(e) = rec
                        && e.seq > self.after
                    {
                        self.pending = Some(*e);
                    }
                }
                None => {
                    // The end, or a record still being written: reopen at the last whole
                    // record next time, or move to the next segment if there is one.
                    self.reader = None;
                    match self.journal.segments().into_iter().find(|s| *s > seg) {
                        Some(n) => self.at = Some((n, 0)),
                        None => break,
                    }
                }
            }
        }
        // The buffer may hold bytes past the durable end, which a failed group commit cuts
        // and rewrites: start from `at` with a fresh read next time.
        self.reader = None;
        Ok(out)
    }
}

struct SegmentReader {
    r: BufReader<File>,
    offset: u64,
}

impl SegmentReader {
    fn open(path: &Path, offset: u64) -> Result<SegmentReader> {
        let mut f = File::open(path).map_err(|e| io_err("open segment", e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err("seek", e))?;
        Ok(SegmentReader {
            r: BufReader::with_capacity(256 * 1024, f),
            offset,
        })
    }

    /// The next whole, valid record; `None` at the end or at a torn or corrupt tail.
    fn next_record(&mut self) -> Result<Option<Record>> {
        let Some((kind, seq, payload, size)) = read_raw(&mut self.r)? else {
            return Ok(None);
        };
        self.offset += size;
        match kind {
            KIND_EVENT => {
                let mut e =
                    pb::Event::decode(payload.as_slice()).map_err(|e| decode_err("event", e))?;
                e.seq = seq;
                Ok(Some(Record::Event(Box::new(e))))
            }
            KIND_OPS => Ok(Some(Record::Ops(decode_ops(&payload)?))),
            k => Err(decode_err("record", format!("unknown kind {k}"))),
        }
    }
}

/// One raw record: kind, seq, payload, and the bytes it took on disk.
type RawRecord = (u8, u64, Vec<u8>, u64);

/// Reads one record, or `None` when what follows is not a whole record with a matching checksum.
fn read_raw(r: &mut impl Read) -> Result<Option<RawRecord>> {
    let mut head = [0u8; HEADER];
    if !read_full(r, &mut head)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if (len as usize) < BODY_PREFIX || len > MAX_RECORD {
        return Ok(None);
    }
    let mut body = vec![0u8; len as usize];
    if !read_full(r, &mut body)? || crc32fast::hash(&body) != crc {
        return Ok(None);
    }
    let kind = body[0];
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&body[1..BODY_PREFIX]);
    let payload = body.split_off(BODY_PREFIX);
    Ok(Some((
        kind,
        u64::from_le_bytes(seq),
        payload,
        (HEADER + len as usize) as u64,
    )))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("read", e)),
        }
    }
    Ok(true)
}

/// Length of the valid prefix of a segment and the last event seq in it.
fn scan_valid(path: &Path) -> Result<(u64, Option<u64>)> {
    let mut r = SegmentReader::open(path, 0)?;
    let mut last = None;
    while let Some((kind, seq, _, size)) = read_raw(&mut r.r)? {
        r.offset += size;
        if kind == KIND_EVENT {
            last = Some(seq);
        }
    }
    Ok((r.offset, last))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|e| io_err("list", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".wal")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Makes a new file's directory entry durable; best effort, as not every filesystem allows it.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Appends one record to `buf`; false (and nothing appended) when it is over the size limit,
/// which the reader would take for a torn tail.
pub fn encode_record(buf: &mut Vec<u8>, kind: u8, seq: u64, payload: &[u8]) -> bool {
    let Some(len) = u32::try_from(BODY_PREFIX + payload.len())
        .ok()
        .filter(|l| *l <= MAX_RECORD)
    else {
        return false;
    };
    let start = buf.len();
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.push(kind);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(&buf[start + HEADER..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    true
}

#[must_use]
pub fn encode_event(buf: &mut Vec<u8>, e: &pb::Event) -> bool {
    let payload = e.encode_to_vec();
    encode_record(buf, KIND_EVENT, e.seq, &payload)
}

#[must_use]
pub fn encode_ops(buf: &mut Vec<u8>, seq: u64, ops: &[Op]) -> bool {
    let mut p = Vec::new();
    for op in ops {
        let (tag, k, v): (u8, &[u8], &[u8]) = match op {
            Op::Put(k, v) => (1, k, v),
            Op::Del(k) => (2, k, &[]),
        };
        p.push(tag);
        p.extend_from_slice(&(k.len() as u32).to_le_bytes());
        p.extend_from_slice(k);
        p.extend_from_slice(&(v.len() as u32).to_le_bytes());
        p.extend_from_slice(v);
    }
    encode_record(buf, KIND_OPS, seq, &p)
}

fn decode_ops(mut p: &[u8]) -> Result<Vec<Op>> {
    let bad = || decode_err("ops", "truncated");
    let take = |n: usize, p: &mut &[u8]| -> Result<Vec<u8>> {
        if p.len() < n {
            return Err(bad());
        }
        let (a, b) = p.split_at(n);
        *p = b;
        Ok(a.to_vec())
    };
    let mut ops = Vec::new();
    while !p.is_empty() {
        let tag = take(1, &mut p)?[0];
        let klen = u32::from_le_bytes(take(4, &mut p)?.try_into().map_err(|_| bad())?) as usize;
        let k = take(klen, &mut p)?;
        let vlen = u32::from_le_bytes(take(4, &mut p)?.try_into().map_err(|_| bad())?) as usize;
        let v = take(vlen, &mut p)?;
        ops.push(match tag {
            1 => Op::Put(k, v),
            2 => Op::Del(k),
            t => return Err(decode_err("ops", format!("unknown op {t}"))),
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64) -> pb::Event {
        pb::Event {
            seq,
            session_id: format!("s{seq}"),
            payload: Some(pb::event::Payload::Warning(pb::Warning::default())),
            ..Default::default()
        }
    }

    fn group(first: u64, n: u64) -> Vec<u8> {
        let mut b = Vec::new();
        assert!(encode_ops(
            &mut b,
            first,
            &[Op::Put(vec![1, first as u8], vec![2]), Op::Del(vec![3])],
        ));
        for s in first..first + n {
            assert!(encode_event(&mut b, &ev(s)));
        }
        b
    }

    #[test]
    fn append_read_back_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let o = Journal::open(dir.path()).unwrap();
        assert_eq!(o.last_seq, 0);
        o.journal.append(1, &group(1, 3)).unwrap();
        let pos = o.journal.append(4, &group(4, 2)).unwrap();
        let mut c = o.journal.cursor(1);
        let seqs: Vec<u64> = c.next_batch(5, 10).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3, 4, 5]);
        assert!(c.next_batch(5, 10).unwrap().is_empty());
        drop(o);
        let o = Journal::open(dir.path()).unwrap();
        assert_eq!(o.last_seq, 5);
        let (ops, end) = o.journal.redo_since(Position::default()).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(end, pos);
        let (ops, _) = o.journal.redo_since(pos).unwrap();
        assert!(ops.is_empty());
    }

    #[test]
    fn a_record_over_the_limit_is_refused_not_written() {
        let mut b = vec![7u8];
        let big = vec![0u8; MAX_RECORD as usize];
        assert!(!encode_record(&mut b, KIND_EVENT, 1, &big));
        assert_eq!(b, [7u8], "nothing appended");
    }

    #[test]
    fn a_cursor_rereads_a_group_cut_and_rewritten_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let o = Journal::open(dir.path()).unwrap();
        o.journal.append(1, &group(1, 2)).unwrap();
        let mut c = o.journal.cursor(0);
        // Durable up to 1: event 2 is read past the limit and must not be kept.
        assert_eq!(c.next_batch(1, 10).unwrap().len(), 1);
        // Simulate the writer cutting the group [2] off and writing a different event 2.
        drop(o);
        let path = segment_path(dir.path(), 1);
        let bytes = std::fs::read(&path).unwrap();
        let mut first = group(1, 1);
        let mut other = ev(2);
        other.session_id = "rewritten".into();
        assert!(encode_event(&mut first, &other));
        assert!(bytes.len() > first.len() - 10);
        std::fs::write(&path, &first).unwrap();
        let got = c.next_batch(2, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].session_id, "rewritten");
    }

    #[test]
    fn torn_and_corrupt_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let o = Journal::open(dir.path()).unwrap();
        o.journal.append(1, &group(1, 2)).unwrap();
        drop(o);
        let path = segment_path(dir.path(), 1);
        let mut tail = group(3, 2);
        tail.truncate(tail.len() - 3);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&tail).unwrap();
        drop(f);
        let o = Journal::open(dir.path()).unwrap();
        assert_eq!(o.last_seq, 3, "whole records before the torn one survive");
        // The writer continues after the cut, and a flipped byte ends the valid prefix.
        o.journal.append(4, &group(4, 1)).unwrap();
        drop(o);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 2] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let o = Journal::open(dir.path()).unwrap();
        assert_eq!(o.last_seq, 3);
    }

    #[test]
    fn segments_rotate_and_cursor_crosses_them() {
        let dir = tempfile::tempdir().unwrap();
        let o = Journal::open(dir.path()).unwrap();
        let big = "x".repeat(64 * 1024);
        for seq in 1..=200 {
            let mut b = Vec::new();
            let mut e = ev(seq);
            e.session_id = big.clone();
            assert!(encode_event(&mut b, &e));
            o.journal.append(seq, &b).unwrap();
        }
        assert!(o.journal.segments().len() >= 2);
        let mut c = o.journal.cursor(0);
        let mut all = Vec::new();
        loop {
            let b = c.next_batch(200, 7).unwrap();
            if b.is_empty() {
                break;
            }
            all.extend(b.into_iter().map(|e| e.seq));
        }
        assert_eq!(all, (1..=200).collect::<Vec<_>>());
        let rev: Vec<u64> = o
            .journal
            .events_rev(|_| true)
            .map(|e| e.unwrap().seq)
            .collect();
        assert_eq!(rev, (1..=200).rev().collect::<Vec<_>>());
        drop(o);
        assert_eq!(Journal::open(dir.path()).unwrap().last_seq, 200);
        let mut c = Journal::open(dir.path()).unwrap().journal.cursor(150);
        assert_eq!(c.next_batch(200, 1).unwrap()[0].seq, 151);
    }
}
