//! The protocol's framing, read within bounds: headers up to an empty line,
//! then as many bytes as `Content-Length` says. A frame that cannot be read
//! (no length, a length that is not a number or beyond [`MAX_BODY`], a header
//! line that is not one or never ends) is reported at once, before anything
//! more is read, so that the server answers it while the client waits; then
//! reading goes on with the next line. What a bad frame's body leaves before
//! the next `Content-Length:` on a line is passed over.

use std::io::{self, BufRead, Read};

/// The largest message read: a spec is kilobytes, and a client's whole document arrives in one.
pub const MAX_BODY: usize = 16 << 20;
/// The longest header line, and the most header lines of one frame.
const MAX_LINE: usize = 1024;
const MAX_HEADERS: usize = 32;

/// What reading one frame gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A message's body.
    Body(Vec<u8>),
    /// A frame that could not be read, and why; reading resumes at the next one.
    Bad(String),
    /// The input ended.
    End,
}

/// Where a server's frames come from: the next one, waiting for it, and the
/// next one only if it has arrived already (to drop work a later message
/// makes outdated).
pub trait Incoming {
    fn next(&mut self) -> io::Result<Frame>;
    fn arrived(&mut self) -> Option<io::Result<Frame>>;
}

/// Frames of an input held in memory: each one has arrived.
pub struct InMemory<R>(pub Frames<R>);

impl<R: BufRead> Incoming for InMemory<R> {
    fn next(&mut self) -> io::Result<Frame> {
        self.0.read()
    }

    fn arrived(&mut self) -> Option<io::Result<Frame>> {
        Some(self.0.read())
    }
}

/// Frames read on a thread of their own from a stream (stdin), handed over as they arrive.
pub struct Arriving(std::sync::mpsc::Receiver<io::Result<Frame>>);

impl Arriving {
    /// Reads `input` on a thread of its own until it ends.
    pub fn spawn<R: BufRead + Send + 'static>(input: R) -> Arriving {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut frames = Frames::new(input);
            loop {
                let frame = frames.read();
                let last = !matches!(frame, Ok(Frame::Body(_) | Frame::Bad(_)));
                if send.send(frame).is_err() || last {
                    return;
                }
            }
        });
        Arriving(receive)
    }
}

impl Incoming for Arriving {
    fn next(&mut self) -> io::Result<Frame> {
        self.0.recv().unwrap_or(Ok(Frame::End))
    }

    fn arrived(&mut self) -> Option<io::Result<Frame>> {
        self.0.try_recv().ok()
    }
}

/// Frames read from a client's input.
pub struct Frames<R> {
    input: R,
    /// A header line was too long: the rest of it is passed over first.
    rest_of_line: bool,
}

impl<R: BufRead> Frames<R> {
    pub fn new(input: R) -> Self {
        Frames { input, rest_of_line: false }
    }

    /// Reads the next frame.
    pub fn read(&mut self) -> io::Result<Frame> {
        if std::mem::take(&mut self.rest_of_line) {
            self.pass_line()?;
        }
        let mut length: Option<Result<usize, String>> = None;
        let mut headers = 0;
        loop {
            let line = match self.line()? {
                Line::End if headers == 0 => return Ok(Frame::End),
                Line::End => return Ok(Frame::Bad("the input ended inside a frame's headers".to_owned())),
                Line::TooLong => {
                    self.rest_of_line = true;
                    return Ok(Frame::Bad("a header line longer than 1 KiB".to_owned()));
                }
                Line::Text(line) => line,
            };
            // What an unreadable body left before the next frame's first header.
            let line = match line.to_ascii_lowercase().find("content-length:") {
                Some(at) if at > 0 => line[at..].to_owned(),
                _ => line,
            };
            if line.is_empty() {
                // Blank lines between frames are tolerated.
                if headers == 0 {
                    continue;
                }
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Ok(Frame::Bad("more than 32 header lines".to_owned()));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Ok(Frame::Bad(format!("a header line without `:`: {}", shown(&line))));
            };
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(match value.trim().parse::<usize>() {
                    Ok(n) if n <= MAX_BODY => Ok(n),
                    Ok(n) => Err(format!("a Content-Length of {n} bytes, more than the {MAX_BODY} read")),
                    Err(_) => Err(format!("a Content-Length that is not a number: {}", shown(value.trim()))),
                });
            }
        }
        let length = match length {
            None => return Ok(Frame::Bad("a frame without Content-Length".to_owned())),
            Some(Err(why)) => return Ok(Frame::Bad(why)),
            Some(Ok(length)) => length,
        };
        let mut body = Vec::with_capacity(length.min(1 << 20));
        let read = self.input.by_ref().take(length as u64).read_to_end(&mut body)?;
        if read < length {
            return Ok(Frame::Bad(format!("the input ended {read} bytes into a body of {length}")));
        }
        Ok(Frame::Body(body))
    }

    /// One header line without its line end, at most [`MAX_LINE`] bytes read of it.
    fn line(&mut self) -> io::Result<Line> {
        let mut bytes = Vec::new();
        let read = self.input.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut bytes)?;
        if read == 0 {
            return Ok(Line::End);
        }
        if bytes.last() != Some(&b'\n') && bytes.len() > MAX_LINE {
            return Ok(Line::TooLong);
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(Line::Text(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// Reads through the end of the line, keeping nothing.
    fn pass_line(&mut self) -> io::Result<()> {
        loop {
            let buffered = self.input.fill_buf()?;
            if buffered.is_empty() {
                return Ok(());
            }
            match buffered.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    self.input.consume(end + 1);
                    return Ok(());
                }
                None => {
                    let all = buffered.len();
                    self.input.consume(all);
                }
            }
        }
    }
}

enum Line {
    Text(String),
    TooLong,
    End,
}

/// A piece of a client's header as an error message shows it: short, one line.
fn shown(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    format!("`{}`", short.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut reader = Frames::new(io::BufReader::with_capacity(16, input));
        let mut frames = Vec::new();
        loop {
            match reader.read().expect("reads") {
                Frame::End => return frames,
                frame => frames.push(frame),
            }
        }
    }

    #[test]
    fn frames_are_read_and_a_bad_one_costs_only_itself() {
        let good = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let input = format!(
            "{}Content-Length: 1000000000000\r\n\r\n{{}}{}Content-Length: x\r\n\r\n{}garbage\r\n\r\n{}",
            good("{\"a\":1}"),
            good("{\"b\":2}"),
            good("{\"c\":3}"),
            good("{\"d\":4}"),
        );
        let read = frames(input.as_bytes());
        let bodies: Vec<String> = read
            .iter()
            .filter_map(|f| match f {
                Frame::Body(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}"], "{read:?}");
        let bad: Vec<&Frame> = read.iter().filter(|f| matches!(f, Frame::Bad(_))).collect();
        assert_eq!(bad.len(), 3, "{read:?}");
        assert!(matches!(bad[0], Frame::Bad(why) if why.contains("more than the")), "{bad:?}");
        assert!(matches!(bad[1], Frame::Bad(why) if why.contains("not a number")), "{bad:?}");
        assert!(matches!(bad[2], Frame::Bad(why) if why.contains("without `:`")), "{bad:?}");
        let long = format!("X-Long: {}\r\n\r\n{}", "y".repeat(5000), good("{}"));
        assert!(matches!(frames(long.as_bytes()).as_slice(), [Frame::Bad(_), Frame::Body(b)] if b == b"{}"));
        assert!(
            matches!(frames(b"Content-Length: 10\r\n\r\nabc").as_slice(), [Frame::Bad(why)] if why.contains("ended"))
        );
    }
}
