//! The progress bar of a transfer on a terminal. An archive download reports bytes; a git
//! fetch reports both the objects received and the bytes they came in, on one line, so
//! neither count is ever shown in the other's unit.

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// The bar of the transfer in progress, if one has started.
#[derive(Default)]
pub struct Transfer {
    bar: Option<ProgressBar>,
    bytes: u64,
    /// Objects seen: from then on the bar counts objects and shows bytes beside them.
    objects: bool,
}

impl Transfer {
    pub fn bytes(&mut self, done: u64, total: Option<u64>) {
        self.bytes = done;
        if self.objects {
            if let Some(bar) = &self.bar {
                bar.set_message(HumanBytes(done).to_string());
            }
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            styled(match total {
                Some(_) => "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                None => "{spinner} {bytes} {bytes_per_sec}",
            })
        });
        set(bar, done, total);
    }

    pub fn objects(&mut self, done: u64, total: Option<u64>) {
        let template = match total {
            Some(_) => "{bar:30} {pos}/{len} objects, {msg}",
            None => "{spinner} {pos} objects, {msg}",
        };
        let bar = match (&self.bar, self.objects) {
            (Some(bar), true) => bar,
            (bar, _) => {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                self.objects = true;
                self.bar.insert(styled(template))
            }
        };
        bar.set_message(HumanBytes(self.bytes).to_string());
        set(bar, done, total);
    }

    /// Clears the bar (a phase ended, or a line is about to be printed).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        *self = Transfer::default();
    }
}

fn styled(template: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn set(bar: &ProgressBar, done: u64, total: Option<u64>) {
    if let Some(t) = total {
        bar.set_length(t);
    }
    bar.set_position(done);
}
