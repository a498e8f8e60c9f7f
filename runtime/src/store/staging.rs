//! What a sync hands the store: each user's record encoded once with its
//! digest, and the baseline of the digests the store holds, so that a user the
//! API lists unchanged costs a lookup in memory and no write at all.
//!
//! A record is `[digest: u64][length: u32][fields]`, little-endian; each field
//! is `[length: u32][UTF-8]`, or `u32::MAX` for a value the user has not. The
//! digest is XXH3-64 of the fields, so it covers the external id: two users
//! never share one but by a 2⁻⁶⁴ accident, and equal digests mean the same
//! user, unchanged. Changing this encoding makes every stored user count as
//! changed once, at its next sync: a rewrite, never a loss. The fields after
//! `custom_fields` (roles, groups, account type, last activity) are written only
//! when the user has one of them, so a user without any keeps the digest it had
//! before they existed.

use tib_support::User;
use tib_support::record::Name;

pub type Digest = u64;

const ABSENT: u32 = u32::MAX;
const HEADER: usize = 12;

/// The fields of a record, in their encoded order; the names are the store's
/// columns and what the history of a user calls them.
pub const FIELDS: [&str; 17] = [
    "external_id",
    "email",
    "username",
    "full_name",
    "first_name",
    "last_name",
    "role",
    "created_at",
    "last_seen_at",
    "active",
    "status",
    "licenses",
    "custom_fields",
    "roles",
    "groups",
    "account_type",
    "last_activity_at",
];

/// The fields every record holds; the rest only when the user has one of them.
const ALWAYS: usize = 13;

/// Index of `licenses` in [`FIELDS`].
pub const LICENSES: usize = 11;
/// Index of `custom_fields` in [`FIELDS`].
pub const CUSTOM_FIELDS: usize = 12;

/// Appends `user` as a record to `out` unless the baseline holds it
/// unchanged (then it is marked kept and nothing is appended). True when it
/// was appended.
pub fn stage(user: &User, baseline: &mut Baseline, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    encode_fields(user, out);
    let digest = xxhash_rust::xxh3::xxh3_64(&out[start + HEADER..]);
    if baseline.keep(digest) {
        out.truncate(start);
        return false;
    }
    let length = u32::try_from(out.len() - start - HEADER).unwrap_or(ABSENT);
    out[start..start + 8].copy_from_slice(&digest.to_le_bytes());
    out[start + 8..start + HEADER].copy_from_slice(&length.to_le_bytes());
    true
}

fn encode_fields(user: &User, out: &mut Vec<u8>) {
    let (full, first, last) = match &user.name {
        None => (None, None, None),
        Some(Name::Full(full)) => (Some(full.as_str()), None, None),
        Some(Name::Split { first, last }) => (None, first.as_deref(), last.as_deref()),
    };
    text(out, Some(&user.external_id));
    text(out, Some(&user.email));
    text(out, user.username.as_deref());
    text(out, full);
    text(out, first);
    text(out, last);
    text(out, user.role.as_deref());
    for time in [user.created_at, user.last_seen_at] {
        field(out, time.map(|t| move |out: &mut Vec<u8>| rfc3339(out, t)));
    }
    text(out, Some(if user.active { "1" } else { "0" }));
    text(out, Some(&user.status));
    field(out, Some(|out: &mut Vec<u8>| json(out, &user.licenses)));
    field(out, Some(|out: &mut Vec<u8>| json(out, &CustomFields(&user.custom_fields))));
    if user.roles.is_empty() && user.groups.is_empty() && user.account_type.is_none() && user.last_activity_at.is_none()
    {
        return;
    }
    for list in [&user.roles, &user.groups] {
        field(out, (!list.is_empty()).then_some(|out: &mut Vec<u8>| json(out, &Texts(list))));
    }
    text(out, user.account_type.as_deref());
    field(out, user.last_activity_at.map(|t| move |out: &mut Vec<u8>| rfc3339(out, t)));
}

/// A time as `UserRow` stores it (`to_rfc3339`: seconds, a fraction of 3, 6 or 9 digits when it has
/// one, `+00:00`), written in place. Every user has two or three times and every sync re-encodes
/// every user to compare digests, so the digits are written directly: chrono's formatting reads a
/// format description for each value, and it was a tenth of an unchanged re-sync's CPU.
fn rfc3339(out: &mut Vec<u8>, time: chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    let year = time.year();
    if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
        // Years that need a sign or a fifth digit, and leap seconds: rare enough for chrono to write.
        out.extend_from_slice(time.to_rfc3339().as_bytes());
        return;
    }
    let digits = |out: &mut Vec<u8>, value: u32, width: usize| {
        let mut buffer = [b'0'; 9];
        let mut rest = value;
        for at in (0..width).rev() {
            buffer[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&buffer[..width]);
    };
    digits(out, year.unsigned_abs(), 4);
    for (separator, value) in [(b'-', time.month()), (b'-', time.day()), (b'T', time.hour())] {
        out.push(separator);
        digits(out, value, 2);
    }
    for value in [time.minute(), time.second()] {
        out.push(b':');
        digits(out, value, 2);
    }
    let nanos = time.nanosecond();
    if nanos != 0 {
        out.push(b'.');
        match (nanos % 1_000_000, nanos % 1_000) {
            (0, _) => digits(out, nanos / 1_000_000, 3),
            (_, 0) => digits(out, nanos / 1_000, 6),
            _ => digits(out, nanos, 9),
        }
    }
    out.extend_from_slice(b"+00:00");
}

/// A list of text as the JSON array the store keeps.
struct Texts<'a>(&'a [compact_str::CompactString]);

impl serde::Serialize for Texts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(compact_str::CompactString::as_str))
    }
}

/// The custom fields as the JSON object the store keeps, in spec order.
struct CustomFields<'a>(&'a [tib_support::record::CustomValue]);

impl serde::Serialize for CustomFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|c| (c.name, &c.value)))
    }
}

fn text(out: &mut Vec<u8>, value: Option<&str>) {
    field(out, value.map(|v| move |out: &mut Vec<u8>| out.extend_from_slice(v.as_bytes())));
}

/// A field written by `write`, with its length put in front afterwards.
fn field(out: &mut Vec<u8>, write: Option<impl FnOnce(&mut Vec<u8>)>) {
    let Some(write) = write else {
        out.extend_from_slice(&ABSENT.to_le_bytes());
        return;
    };
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let length = u32::try_from(out.len() - at - 4).unwrap_or(ABSENT - 1);
    out[at..at + 4].copy_from_slice(&length.to_le_bytes());
}

fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a Vec cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(out, value);
}

/// One staged record, read back: its fields borrowed from the staged bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<'a> {
    pub digest: Digest,
    /// In [`FIELDS`] order.
    pub fields: [Option<&'a str>; FIELDS.len()],
}

impl<'a> Record<'a> {
    pub fn external_id(&self) -> &'a str {
        self.fields[0].unwrap_or_default()
    }

    pub fn active(&self) -> bool {
        self.fields[9] == Some("1")
    }
}

/// Staged bytes that do not read as records: a torn or damaged staging file.
#[derive(Debug, PartialEq)]
pub struct Damaged(pub usize);

/// How many leading bytes of `bytes` are whole records, by their headers
/// alone: where a chunk of a spool read in pieces can be cut.
pub fn whole_records(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + HEADER) {
        let length = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
        let end = at + HEADER + length;
        if end > bytes.len() {
            break;
        }
        at = end;
    }
    at
}

/// The records of staged bytes, in the order they were staged.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Result<Record<'_>, Damaged>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let record = read(bytes, at);
        match &record {
            Ok((_, next)) => at = *next,
            Err(_) => at = bytes.len(),
        }
        Some(record.map(|(record, _)| record))
    })
}

fn read(bytes: &[u8], start: usize) -> Result<(Record<'_>, usize), Damaged> {
    let damaged = || Damaged(start);
    let head = bytes.get(start..start + HEADER).ok_or_else(damaged)?;
    let digest = u64::from_le_bytes(head[..8].try_into().map_err(|_| damaged())?);
    let length = u32::from_le_bytes(head[8..].try_into().map_err(|_| damaged())?) as usize;
    let end = start + HEADER + length;
    let body = bytes.get(start + HEADER..end).ok_or_else(damaged)?;
    if xxhash_rust::xxh3::xxh3_64(body) != digest {
        return Err(damaged());
    }
    let mut fields = [None; FIELDS.len()];
    let mut at = 0;
    for (i, slot) in fields.iter_mut().enumerate() {
        if i == ALWAYS && at == body.len() {
            break;
        }
        let size = body.get(at..at + 4).ok_or_else(damaged)?;
        let size = u32::from_le_bytes(size.try_into().map_err(|_| damaged())?);
        at += 4;
        if size == ABSENT {
            continue;
        }
        let value = body.get(at..at + size as usize).ok_or_else(damaged)?;
        *slot = Some(std::str::from_utf8(value).map_err(|_| damaged())?);
        at += size as usize;
    }
    if at != body.len() || fields[0].is_none() || fields[1].is_none() {
        return Err(damaged());
    }
    Ok((Record { digest, fields }, end))
}

/// The digests of a connection's present users when its sync started, and
/// which of them this sync has seen unchanged ("kept"). Eight bytes a user:
/// 8 MiB for an account of a million.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// Sorted, distinct.
    digests: Vec<Digest>,
    /// Where each run of digests sharing their top bits starts: a lookup is
    /// a binary search over one bucket's few entries. At a million users it
    /// took 17–31 ns, marking included, where a binary search over the whole
    /// account took 64–85 ns (a release test timing both, three times).
    buckets: Vec<u32>,
    shift: u32,
    kept: Vec<u64>,
    kept_count: usize,
    /// Present users when the sync started, with or without a digest.
    present: usize,
    /// The connection's users version the baseline was read at: a sync
    /// applies only onto the users it compared against.
    version: i64,
}

impl Default for Baseline {
    /// No stored user: an account's first sync.
    fn default() -> Self {
        Baseline::new(Vec::new(), 0, 0)
    }
}

impl Baseline {
    /// `digests` of the present users (in any order), `present` counting
    /// those stored before digests too.
    pub fn new(mut digests: Vec<Digest>, present: usize, version: i64) -> Baseline {
        digests.sort_unstable();
        digests.dedup();
        // About eight digests a bucket, at most 2^16 buckets.
        let bits = (digests.len() / 8).max(1).ilog2().min(16);
        let shift = 64 - bits;
        let mut buckets = vec![0u32; (1usize << bits) + 1];
        for &digest in &digests {
            buckets[Self::bucket(digest, shift) + 1] += 1;
        }
        for i in 1..buckets.len() {
            buckets[i] += buckets[i - 1];
        }
        let kept = vec![0; digests.len().div_ceil(64)];
        Baseline { digests, buckets, shift, kept, kept_count: 0, present, version }
    }

    fn bucket(digest: Digest, shift: u32) -> usize {
        digest.checked_shr(shift).unwrap_or(0) as usize
    }

    fn position(&self, digest: Digest) -> Option<usize> {
        let bucket = Self::bucket(digest, self.shift);
        let (start, end) = (self.buckets[bucket] as usize, self.buckets[bucket + 1] as usize);
        self.digests[start..end].binary_search(&digest).ok().map(|i| start + i)
    }

    /// Marks the user with this digest kept, when the store holds it so: true then.
    pub fn keep(&mut self, digest: Digest) -> bool {
        let Some(i) = self.position(digest) else { return false };
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.kept[word] & bit == 0 {
            self.kept[word] |= bit;
            self.kept_count += 1;
        }
        true
    }

    pub fn is_kept(&self, digest: Digest) -> bool {
        self.position(digest).is_some_and(|i| self.kept[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Present users this sync listed unchanged.
    pub fn kept_count(&self) -> usize {
        self.kept_count
    }

    pub fn present(&self) -> usize {
        self.present
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    /// The kept digests, to keep a held sync's baseline on disk.
    pub fn kept_digests(&self) -> impl Iterator<Item = Digest> + '_ {
        self.digests.iter().enumerate().filter(|(i, _)| self.kept[i / 64] & (1 << (i % 64)) != 0).map(|(_, d)| *d)
    }

    /// A baseline whose kept users are `kept`, as a held sync left it.
    pub fn from_kept(kept: Vec<Digest>, present: usize, version: i64) -> Baseline {
        let mut baseline = Baseline::new(kept, present, version);
        for i in 0..baseline.digests.len() {
            baseline.kept[i / 64] |= 1 << (i % 64);
        }
        baseline.kept_count = baseline.digests.len();
        baseline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compact_str::CompactString;

    fn user(id: &str, email: &str) -> User {
        User {
            external_id: id.into(),
            email: email.into(),
            username: None,
            name: Some(Name::Split { first: Some("Ada".into()), last: None }),
            role: Some(CompactString::from("admin")),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 5_000_000),
            last_seen_at: None,
            active: true,
            status: "Active".into(),
            licenses: std::borrow::Cow::Borrowed(&["Pro", "Audit"]),
            custom_fields: vec![tib_support::record::CustomValue {
                name: "seats",
                value: tib_support::record::FieldValue::Number(4001.0),
            }],
            roles: vec![],
            groups: vec![],
            account_type: None,
            last_activity_at: None,
            issues: vec![],
        }
    }

    /// Times are written exactly as `to_rfc3339` writes them (the stored text and every digest depend
    /// on it): whole seconds, each width of fraction, the first and last years of four digits, years
    /// beyond them, and a leap second.
    #[test]
    fn times_are_written_as_to_rfc3339_writes_them() {
        let mut times: Vec<chrono::DateTime<chrono::Utc>> = [
            (1_700_000_000, 0),
            (1_700_000_000, 5_000_000),
            (1_700_000_000, 123_000),
            (1_700_000_000, 1),
            (1_700_000_000, 999_999_999),
            (0, 0),
            (-62_167_219_200, 0),
            (253_402_300_799, 0),
            (253_402_300_800, 0),
            (-62_167_219_201, 7),
        ]
        .into_iter()
        .map(|(secs, nanos)| chrono::DateTime::from_timestamp(secs, nanos).expect("a time"))
        .collect();
        let leap =
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31).and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000));
        times.push(leap.expect("a leap second").and_utc());
        // A spread of seconds and fractions across the years stored times fall in.
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let secs = (state % 4_102_444_800) as i64;
            let nanos = [0, (state >> 40) as u32 % 1000 * 1_000_000, (state >> 32) as u32 % 1_000_000_000]
                [(state % 3) as usize];
            times.push(chrono::DateTime::from_timestamp(secs, nanos).expect("a time"));
        }
        for time in times {
            let mut written = Vec::new();
            rfc3339(&mut written, time);
            assert_eq!(String::from_utf8(written).expect("UTF-8"), time.to_rfc3339(), "{time:?}");
        }
    }

    /// The record of a user without roles, groups, account type or last activity holds the fields
    /// it held before they existed, so its digest, and the store's, stay as they were.
    #[test]
    fn the_later_fields_are_written_only_for_a_user_who_has_one() {
        let without = user("u1", "ada@example.com");
        let (mut before, mut with_them) = (Vec::new(), Vec::new());
        stage(&without, &mut Baseline::default(), &mut before);
        let record = records(&before).next().expect("one").expect("readable");
        assert_eq!(record.fields[ALWAYS..], [None; FIELDS.len() - ALWAYS]);
        let mut fields = 0;
        let mut at = HEADER;
        while at < before.len() {
            let size = u32::from_le_bytes(before[at..at + 4].try_into().expect("four bytes"));
            at += 4 + if size == ABSENT { 0 } else { size as usize };
            fields += 1;
        }
        assert_eq!(fields, ALWAYS, "thirteen fields, as before");

        let mut with = without.clone();
        with.groups = vec!["ops".into(), "site admins".into()];
        with.last_activity_at = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        stage(&with, &mut Baseline::default(), &mut with_them);
        let record = records(&with_them).next().expect("one").expect("readable");
        assert_eq!(
            record.fields[ALWAYS..],
            [None, Some(r#"["ops","site admins"]"#), None, Some("2023-11-14T22:13:20+00:00")]
        );
        assert_ne!(record.digest, records(&before).next().expect("one").expect("readable").digest);
    }

    #[test]
    fn a_record_reads_back_as_the_row_the_store_kept_before_digests() {
        let user = user("u1", "ada@example.com");
        let mut out = Vec::new();
        assert!(stage(&user, &mut Baseline::default(), &mut out));
        let record = records(&out).next().expect("one").expect("readable");
        let row = tib_support::record::UserRow::from(&user);
        assert_eq!(record.external_id(), "u1");
        assert_eq!(record.fields[1], Some("ada@example.com"));
        assert_eq!(record.fields[3..7], [None, Some("Ada"), None, Some("admin")]);
        assert_eq!(record.fields[7].map(str::to_owned), row.created_at, "the same RFC 3339 text");
        assert_eq!(record.fields[8], None);
        assert!(record.active());
        assert_eq!(record.fields[LICENSES], Some(r#"["Pro","Audit"]"#));
        let custom: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(record.fields[CUSTOM_FIELDS].expect("custom")).expect("JSON");
        assert_eq!(custom, row.custom_fields);
    }

    #[test]
    fn a_user_the_baseline_holds_unchanged_is_kept_and_not_staged() {
        let (a, b) = (user("u1", "a@example.com"), user("u2", "b@example.com"));
        let mut staged = Vec::new();
        stage(&a, &mut Baseline::default(), &mut staged);
        let digest = records(&staged).next().expect("one").expect("readable").digest;

        let mut baseline = Baseline::new(vec![digest, 7, 9], 3, 1);
        let mut out = Vec::new();
        assert!(!stage(&a, &mut baseline, &mut out), "unchanged");
        assert!(out.is_empty());
        assert!(stage(&b, &mut baseline, &mut out), "another user");
        let mut changed = a.clone();
        changed.licenses = std::borrow::Cow::Borrowed(&["Pro"]);
        assert!(stage(&changed, &mut baseline, &mut out), "a license fewer is a change");
        assert_eq!(records(&out).count(), 2);
        assert_eq!((baseline.kept_count(), baseline.is_kept(digest), baseline.is_kept(7)), (1, true, false));
        assert!(!stage(&a, &mut baseline, &mut out), "listed twice: still kept once");
        assert_eq!(baseline.kept_count(), 1);
        assert_eq!(baseline.kept_digests().collect::<Vec<_>>(), [digest]);
    }

    #[test]
    fn lookups_find_every_digest_of_a_large_baseline_and_nothing_else() {
        let digests: Vec<u64> = (0..100_000u64).map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())).collect();
        let mut baseline = Baseline::new(digests.clone(), digests.len(), 0);
        assert!(digests.iter().all(|d| baseline.keep(*d)));
        assert_eq!(baseline.kept_count(), 100_000);
        assert!((100_000..110_000u64).all(|i| !baseline.keep(xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))));
        let mut edges = Baseline::new(vec![0, u64::MAX], 2, 0);
        assert!(edges.keep(0) && edges.keep(u64::MAX) && !edges.keep(1));
    }

    #[test]
    fn damaged_staging_is_found_not_misread() {
        let mut out = Vec::new();
        stage(&user("u1", "a@example.com"), &mut Baseline::default(), &mut out);
        let whole = out.len();
        stage(&user("u2", "b@example.com"), &mut Baseline::default(), &mut out);
        let torn = &out[..out.len() - 3];
        let read: Vec<_> = records(torn).collect();
        assert_eq!(read.len(), 2);
        assert!(read[0].is_ok());
        assert_eq!(read[1], Err(Damaged(whole)));
        let mut flipped = out.clone();
        flipped[whole + 20] ^= 1;
        assert!(records(&flipped).nth(1).expect("second").is_err(), "a flipped bit fails the digest");
    }
}
