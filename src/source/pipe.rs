//! A bounded pipe between two threads of one extraction: a producer (reading, hashing and
//! inflating the archive) fills buffers that the consumer (checking paths and writing files)
//! reads, so the two halves of the work run on two cores. Buffers go back to the producer
//! once read: memory stays at a few buffers however large the archive.

use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

/// Bytes per buffer handed over.
const CHUNK: usize = 256 * 1024;
/// Buffers filled and waiting for the consumer, at most.
const IN_FLIGHT: usize = 4;

/// Runs `produce` on a thread of `scope`; what it pumps into its [`PipeWriter`] comes out
/// of the returned [`PipeReader`]. Dropping the reader makes the producer's next pump stop.
pub(crate) fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    produce: impl FnOnce(&mut PipeWriter) -> T + Send + 'scope,
) -> (PipeReader, ScopedJoinHandle<'scope, T>) {
    let (full, filled) = sync_channel(IN_FLIGHT);
    let (back, empty) = channel();
    let handle = scope.spawn(move || produce(&mut PipeWriter { full, empty }));
    let reader = PipeReader {
        filled,
        back,
        current: Vec::new(),
        pos: 0,
        failed: false,
    };
    (reader, handle)
}

/// How a [`PipeWriter::pump`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pumped {
    /// The source reached its end; everything was handed over.
    Done,
    /// The source failed (the error went to the reader) or the reader is gone.
    Stopped,
}

/// The producer's end of the pipe.
pub(crate) struct PipeWriter {
    full: SyncSender<io::Result<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
}

impl PipeWriter {
    /// Copies `source` into the pipe until its end; a read error is passed on to the reader.
    /// Each read is handed over as it is, never held back to fill a buffer: a stalled
    /// download must not hide an entry already received from the checks.
    pub(crate) fn pump(&mut self, source: &mut dyn Read) -> Pumped {
        loop {
            let mut buf = self.empty.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let read = match source.read(&mut buf) {
                Ok(0) => return Pumped::Done,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = self.full.send(Err(e));
                    return Pumped::Stopped;
                }
            };
            buf.truncate(read);
            if self.full.send(Ok(buf)).is_err() {
                return Pumped::Stopped;
            }
        }
    }
}

/// The consumer's end of the pipe: a `Read` that ends when the producer is done.
pub(crate) struct PipeReader {
    filled: Receiver<io::Result<Vec<u8>>>,
    back: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    /// A read error was passed on: the stream must not look as if it ended cleanly after it.
    failed: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            let next = match self.filled.recv() {
                Ok(Ok(next)) => next,
                Ok(Err(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                Err(_) if self.failed => return Err(io::Error::other("the archive stream failed")),
                // The producer is gone: the end of the stream (a panic is seen when joined).
                Err(_) => return Ok(0),
            };
            let used = std::mem::replace(&mut self.current, next);
            self.pos = 0;
            // The producer may be gone already; the buffer is then simply freed.
            let _ = self.back.send(used);
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_errors_cross_in_order() {
        let data: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| i as u8).collect();
        std::thread::scope(|scope| {
            let (mut reader, producer) = spawn(scope, |out| out.pump(&mut &data[..]));
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
            assert_eq!(producer.join().unwrap(), Pumped::Done);
        });
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken"))
            }
        }
        std::thread::scope(|scope| {
            let (mut reader, producer) = spawn(scope, |out| out.pump(&mut Failing));
            let e = reader.read_to_end(&mut Vec::new()).unwrap_err();
            assert_eq!(e.to_string(), "broken");
            assert_eq!(producer.join().unwrap(), Pumped::Stopped);
        });
    }

    #[test]
    fn a_reader_that_stops_early_stops_the_producer() {
        let endless = io::repeat(7);
        std::thread::scope(|scope| {
            let (mut reader, producer) = spawn(scope, move |out| out.pump(&mut { endless }));
            let mut first = [0u8; 10];
            reader.read_exact(&mut first).unwrap();
            drop(reader);
            assert_eq!(producer.join().unwrap(), Pumped::Stopped);
        });
    }
}
