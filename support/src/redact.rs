//! Secrets found in text from outside, however it was encoded. An API or a
//! token endpoint that echoes a credential writes it as its own encoder does:
//! percent-encoded in either case, JSON-escaped (`\u002B`, `\/`), HTML-escaped
//! (`&#x2F;`, `&amp;`), or several of these over one another. Rather than list
//! the forms (there is always one more encoder), the text is decoded layer by
//! layer, up to [`MAX_LAYERS`] deep, and every layer searched: any run of a
//! secret at least [`RUN`] bytes long (the whole of a shorter one) masks the
//! stretch of the original text it was decoded from. A secret cut short (an
//! error body cut at its bound) is still found by its runs. Masking a little
//! more than needed is harmless; missing a form is not.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

/// A run of a secret this long, found in any layer, is masked.
const RUN: usize = 8;
/// Shorter values are not searched for: they would mask ordinary words, and no one relies on them as secrets.
const SHORTEST: usize = 4;
/// How many encodings over one another are undone (a JSON string inside an HTML page inside a URL is three).
const MAX_LAYERS: usize = 4;
const MASK: &str = "[redacted]";

/// `text` with every run of the `secrets` in it, in any encoding, replaced by `[redacted]`.
pub(crate) fn redact<'s>(text: &str, secrets: impl IntoIterator<Item = &'s str>) -> String {
    let runs = Runs::of(secrets);
    if runs.by_length.is_empty() {
        return text.to_owned();
    }
    let mut masked: Vec<Range<usize>> = Vec::new();
    for layer in layers(text) {
        runs.find(&layer, &mut masked);
    }
    mask(text, masked)
}

/// The text as written, and each way of decoding it: one kind of escape at a
/// time, since a secret may itself hold what another kind would decode (a
/// JSON-escaped secret with `%00` in it), then the same again on each result.
fn layers(text: &str) -> Vec<Layer> {
    let mut layers = vec![Layer::original(text)];
    let mut seen: HashSet<Vec<u8>> = HashSet::from([text.as_bytes().to_vec()]);
    let mut frontier = 0..1;
    for _ in 0..MAX_LAYERS {
        let mut next = Vec::new();
        for layer in &layers[frontier.clone()] {
            for kind in [Escape::Percent, Escape::Backslash, Escape::Html] {
                if let Some(decoded) = layer.decoded(kind).filter(|d| seen.insert(d.bytes.clone())) {
                    next.push(decoded);
                }
            }
        }
        // Hostile text can nest escapes of every kind: the work stays bounded.
        next.truncate(MAX_DECODED.saturating_sub(layers.len()));
        frontier = layers.len()..layers.len() + next.len();
        layers.extend(next);
    }
    layers
}

/// At most this many decoded layers are searched.
const MAX_DECODED: usize = 64;

/// The kinds of escapes encoders write.
#[derive(Clone, Copy)]
enum Escape {
    /// `%2F`, in either case.
    Percent,
    /// JSON's and JavaScript's `\u002B`, `\/`, `\"`; Python's `\x2f`.
    Backslash,
    /// HTML's `&#x2F;`, `&#47;`, `&amp;`.
    Html,
}

/// Every run of the secrets that masks, by its length.
struct Runs {
    by_length: BTreeMap<usize, HashSet<Vec<u8>>>,
}

impl Runs {
    fn of<'s>(secrets: impl IntoIterator<Item = &'s str>) -> Runs {
        let mut by_length: BTreeMap<usize, HashSet<Vec<u8>>> = BTreeMap::new();
        for secret in secrets {
            let bytes: Vec<u8> = secret.bytes().map(same_as).collect();
            if bytes.len() < SHORTEST {
                continue;
            }
            let length = bytes.len().min(RUN);
            by_length.entry(length).or_default().extend(bytes.windows(length).map(<[u8]>::to_vec));
        }
        Runs { by_length }
    }

    /// Adds to `masked` the original text's stretches that a run was decoded from.
    fn find(&self, layer: &Layer, masked: &mut Vec<Range<usize>>) {
        let compared: Vec<u8> = layer.bytes.iter().copied().map(same_as).collect();
        for (&length, runs) in &self.by_length {
            for (start, window) in compared.windows(length).enumerate() {
                if runs.contains(window) {
                    masked.push(layer.from[start].start..layer.from[start + length - 1].end);
                }
            }
        }
    }
}

/// A space and a plus are compared as one: a form encoder writes the one for the other.
fn same_as(byte: u8) -> u8 {
    if byte == b' ' { b'+' } else { byte }
}

/// The text decoded some layers deep: each byte, and the stretch of the original text it came from.
struct Layer {
    bytes: Vec<u8>,
    from: Vec<Range<usize>>,
}

impl Layer {
    fn original(text: &str) -> Layer {
        Layer { bytes: text.as_bytes().to_vec(), from: (0..text.len()).map(|i| i..i + 1).collect() }
    }

    /// The next layer: every escape of `kind` this one holds decoded; `None` when it holds none.
    fn decoded(&self, kind: Escape) -> Option<Layer> {
        let (lead, unescape): (u8, Unescape) = match kind {
            Escape::Percent => (b'%', percent),
            Escape::Backslash => (b'\\', backslash),
            Escape::Html => (b'&', entity),
        };
        if !self.bytes.contains(&lead) {
            return None;
        }
        let mut next =
            Layer { bytes: Vec::with_capacity(self.bytes.len()), from: Vec::with_capacity(self.bytes.len()) };
        let (mut at, mut changed) = (0, false);
        let mut buffer = [0u8; 4];
        while at < self.bytes.len() {
            match (self.bytes[at] == lead).then(|| unescape(&self.bytes[at..])).flatten() {
                Some((decoded, used)) => {
                    let from = self.from[at].start..self.from[at + used - 1].end;
                    for &byte in decoded.encode_utf8(&mut buffer) {
                        next.bytes.push(byte);
                        next.from.push(from.clone());
                    }
                    at += used;
                    changed = true;
                }
                None => {
                    next.bytes.push(self.bytes[at]);
                    next.from.push(self.from[at].clone());
                    at += 1;
                }
            }
        }
        changed.then_some(next)
    }
}

/// Reads the escape at the start of some bytes: what it stands for, and how many bytes it takes.
type Unescape = fn(&[u8]) -> Option<(Decoded, usize)>;

/// A percent-encoded byte: `%2F`, `%2f`.
fn percent(bytes: &[u8]) -> Option<(Decoded, usize)> {
    Some((Decoded::Byte(hex(bytes.get(1..3)?)? as u8), 3))
}

/// What an escape decodes to: a byte (percent-encoding writes UTF-8 a byte at a time) or a character.
enum Decoded {
    Byte(u8),
    Char(char),
}

impl Decoded {
    fn encode_utf8(self, buffer: &mut [u8; 4]) -> &[u8] {
        match self {
            Decoded::Byte(byte) => {
                buffer[0] = byte;
                &buffer[..1]
            }
            Decoded::Char(c) => c.encode_utf8(buffer).as_bytes(),
        }
    }
}

/// The value of hex digits, in either case.
fn hex(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// JSON's and JavaScript's escapes, and Python's `\xNN`: `\u002B` (a surrogate pair as one), `\/`, `\"`, `\n`...
fn backslash(bytes: &[u8]) -> Option<(Decoded, usize)> {
    let simple = |c: char| Some((Decoded::Char(c), 2));
    match bytes.get(1)? {
        b'u' | b'U' => {
            let unit = hex(bytes.get(2..6)?)?;
            if (0xD800..0xDC00).contains(&unit) {
                let low = bytes.get(6..12).filter(|next| next.starts_with(b"\\u") || next.starts_with(b"\\U"));
                let low = hex(low?.get(2..)?).filter(|low| (0xDC00..0xE000).contains(low))?;
                let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                return Some((Decoded::Char(c), 12));
            }
            Some((Decoded::Char(char::from_u32(unit)?), 6))
        }
        b'x' | b'X' => Some((Decoded::Char(char::from_u32(hex(bytes.get(2..4)?)?)?), 4)),
        b'/' => simple('/'),
        b'\\' => simple('\\'),
        b'"' => simple('"'),
        b'\'' => simple('\''),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'b' => simple('\u{8}'),
        b'f' => simple('\u{c}'),
        _ => None,
    }
}

/// HTML's character references: numeric (`&#47;`, `&#x2F;`, the `;` optional as browsers read them) and
/// the named ones of ASCII punctuation, in any case.
fn entity(bytes: &[u8]) -> Option<(Decoded, usize)> {
    if bytes.get(1) == Some(&b'#') {
        let (radix, digits_at) = match bytes.get(2)? {
            b'x' | b'X' => (16, 3),
            _ => (10, 2),
        };
        let digit = if radix == 16 { u8::is_ascii_hexdigit } else { u8::is_ascii_digit };
        let digits = bytes[digits_at..].iter().take(8).take_while(|b| digit(b)).count();
        let text = std::str::from_utf8(&bytes[digits_at..digits_at + digits]).ok()?;
        let value = u32::from_str_radix(text, radix).ok()?;
        let end = digits_at + digits;
        let used = if bytes.get(end) == Some(&b';') { end + 1 } else { end };
        return Some((Decoded::Char(char::from_u32(value)?), used));
    }
    let name_length = bytes[1..].iter().take(8).take_while(|b| b.is_ascii_alphabetic()).count();
    if bytes.get(1 + name_length) != Some(&b';') {
        return None;
    }
    let name = std::str::from_utf8(&bytes[1..1 + name_length]).ok()?.to_ascii_lowercase();
    let c = NAMED.iter().find(|(n, _)| *n == name)?.1;
    Some((Decoded::Char(c), name_length + 2))
}

/// HTML's named references for ASCII punctuation (an HTML5 encoder may write any of them).
const NAMED: [(&str, char); 30] = [
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("sol", '/'),
    ("bsol", '\\'),
    ("plus", '+'),
    ("equals", '='),
    ("percnt", '%'),
    ("num", '#'),
    ("excl", '!'),
    ("dollar", '$'),
    ("lpar", '('),
    ("rpar", ')'),
    ("ast", '*'),
    ("comma", ','),
    ("period", '.'),
    ("colon", ':'),
    ("semi", ';'),
    ("quest", '?'),
    ("commat", '@'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("lowbar", '_'),
    ("grave", '`'),
    ("lcub", '{'),
    ("rcub", '}'),
    ("verbar", '|'),
    ("hat", '^'),
];

/// `text` with the `masked` stretches (widened to whole characters, overlapping or touching ones as one)
/// replaced by `[redacted]`.
fn mask(text: &str, masked: Vec<Range<usize>>) -> String {
    let whole = |stretch: Range<usize>| {
        let (mut start, mut end) = (stretch.start, stretch.end);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    };
    let mut masked: Vec<Range<usize>> = masked.into_iter().map(whole).collect();
    masked.sort_by_key(|stretch| stretch.start);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut stretches = masked.into_iter().peekable();
    while let Some(mut stretch) = stretches.next() {
        while let Some(next) = stretches.next_if(|next| next.start <= stretch.end) {
            stretch.end = stretch.end.max(next.end);
        }
        out.push_str(&text[copied..stretch.start]);
        out.push_str(MASK);
        copied = stretch.end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str, secret: &str) -> String {
        redact(text, [secret])
    }

    #[test]
    fn each_encoding_and_encodings_over_one_another_are_undone() {
        let secret = "s3c/r+e&<t>\"'k=";
        for (form, text) in [
            ("as written", r#"s3c/r+e&<t>"'k="#),
            (".NET's JSON", r"s3c/r\u002Be\u0026\u003Ct\u003E\u0022\u0027k="),
            ("Go's JSON, lower case", r#"s3c/r+e\u0026\u003ct\u003e\"'k="#),
            ("PHP's JSON with HEX flags", r"s3c\/r+e\u0026\u003Ct\u003E\u0022\u0027k="),
            ("OWASP's HTML encoder", "s3c&#x2F;r&#x2b;e&amp;&lt;t&gt;&#34;&#39;k&#x3d;"),
            ("named HTML5 references", "s3c&sol;r&plus;e&AMP;&lt;t&gt;&quot;&apos;k&equals;"),
            ("Python's quote()", "s3c/r%2Be%26%3Ct%3E%22%27k%3D"),
            ("lower-case percent-encoding", "s3c%2fr%2be%26%3ct%3e%22%27k%3d"),
            ("percent-encoding twice", "s3c%252Fr%252Be%2526%253Ct%253E%2522%2527k%253D"),
            ("JSON inside a URL", "s3c%5Cu002Fr%2Be%26%3Ct%3E%22%27k%3D"),
            ("HTML of JSON", r"s3c&#92;/r&#92;u002Be&amp;&lt;t&gt;&#92;&quot;&#39;k="),
        ] {
            assert_eq!(redacted(&format!("echo:{text}."), secret), "echo:[redacted].", "{form}: {text}");
        }
    }

    #[test]
    fn a_run_of_eight_masks_and_a_shorter_secret_must_be_whole() {
        let secret = "0123456789abcdefghij";
        assert_eq!(redacted("cut here: 0123456789abc…", secret), "cut here: [redacted]…", "a secret cut short");
        assert_eq!(redacted("tail: hij", secret), "tail: hij", "fewer than eight bytes of it");
        assert_eq!(redacted("x 01234567 y", secret), "x [redacted] y");
        assert_eq!(redacted("a short pin 4711 and 471", "4711"), "a short pin [redacted] and 471");
        assert_eq!(redacted("abc", "abc"), "abc", "too short to be searched for");
        assert_eq!(redacted("k3y/with a space=", "k3y/with+a+space="), "[redacted]", "a space is a plus");
    }

    #[test]
    fn what_is_masked_is_whole_characters_and_the_rest_is_kept() {
        let secret = "geheim-äöü-schlüssel";
        assert_eq!(redacted("x geheim-%C3%A4%C3%B6%C3%BC y", secret), "x [redacted] y");
        assert_eq!(redacted("äöü-schlüssel!", secret), "[redacted]!");
        assert_eq!(redacted("%zz &bogus; \\q &#xZZ; 100%", secret), "%zz &bogus; \\q &#xZZ; 100%");
        assert_eq!(redacted(r"key \ud83d\ude00\uD83D\uDE00!", "😀😀"), "key [redacted]!", "a surrogate pair");
        assert_eq!(redacted(r"\ud83d \ude00", "😀😀"), r"\ud83d \ude00", "lone halves stay as they are");
        assert_eq!(redacted("", secret), "");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the secret and however it was written, no run of it is left, and the text around it is.
        #[test]
        fn no_run_of_a_secret_survives_any_encoder(
            secret in "[A-Za-z0-9+/=%&<>\"']{8,48}",
            around in "[a-z ]{0,12}",
            which in 0usize..crate::encoders::ALL.len(),
        ) {
            let (name, encode) = crate::encoders::ALL[which];
            let echoed = encode(&secret);
            let text = format!("{around}|{echoed}|{around}");
            let shown = redact(&text, [secret.as_str()]);
            proptest::prop_assert!(shown.starts_with(&format!("{around}|")), "{name}: {shown}");
            proptest::prop_assert!(shown.ends_with(&format!("|{around}")), "{name}: {shown}");
            for run in secret.as_bytes().windows(RUN) {
                let run = std::str::from_utf8(run).unwrap_or_default();
                proptest::prop_assert!(!shown.contains(run), "{name}: `{run}` of `{secret}` in {shown}");
            }
            for run in echoed.as_bytes().windows(12) {
                let run = std::str::from_utf8(run).unwrap_or_default();
                proptest::prop_assert!(!shown.contains(run), "{name}: `{run}` of `{echoed}` in {shown}");
            }
        }
    }
}
