//! What a conformance run found: counts per fork and every failure.

use std::collections::BTreeMap;
use std::path::Path;

/// One case, as it is named in reports: `file::name [fork #index]`.
pub(super) struct Case<'a> {
    pub file: &'a Path,
    pub name: &'a str,
    pub fork: &'a str,
    pub index: usize,
}

/// Passed, failed and skipped cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Cases whose state root and logs matched (or whose expected exception occurred).
    pub passed: usize,
    /// Cases that did not.
    pub failed: usize,
    /// Cases not run, with a reason in the report.
    pub skipped: usize,
}

/// A failed case.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The test file.
    pub file: String,
    /// The test's name inside the file.
    pub name: String,
    /// The fork.
    pub fork: String,
    /// Index in the fork's post-state list.
    pub index: usize,
    /// What went wrong.
    pub reason: String,
}

/// The result of a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// Counts per fork.
    pub forks: BTreeMap<String, Counts>,
    /// Every failure, in file order.
    pub failures: Vec<Failure>,
    /// Why cases were skipped, with how many.
    pub skip_reasons: BTreeMap<String, usize>,
}

impl Report {
    pub(super) fn pass(&mut self, case: &Case<'_>) {
        self.counts(case.fork).passed += 1;
    }

    pub(super) fn skip(&mut self, case: &Case<'_>, why: &str) {
        self.counts(case.fork).skipped += 1;
        *self.skip_reasons.entry(why.to_string()).or_default() += 1;
    }

    pub(super) fn fail(&mut self, case: &Case<'_>, reason: String) {
        self.counts(case.fork).failed += 1;
        self.failures.push(Failure {
            file: case.file.display().to_string(),
            name: case.name.to_string(),
            fork: case.fork.to_string(),
            index: case.index,
            reason,
        });
    }

    pub(super) fn file_error(&mut self, file: &Path, reason: String) {
        self.counts("(unreadable)").failed += 1;
        self.failures.push(Failure {
            file: file.display().to_string(),
            name: String::new(),
            fork: String::new(),
            index: 0,
            reason,
        });
    }

    fn counts(&mut self, fork: &str) -> &mut Counts {
        self.forks.entry(fork.to_string()).or_default()
    }

    pub(super) fn merge(&mut self, other: Report) {
        for (fork, c) in other.forks {
            let mine = self.counts(&fork);
            mine.passed += c.passed;
            mine.failed += c.failed;
            mine.skipped += c.skipped;
        }
        self.failures.extend(other.failures);
        for (why, n) in other.skip_reasons {
            *self.skip_reasons.entry(why).or_default() += n;
        }
    }

    pub(super) fn sort(&mut self) {
        self.failures.sort_by(|a, b| {
            (&a.file, &a.name, &a.fork, a.index).cmp(&(&b.file, &b.name, &b.fork, b.index))
        });
    }

    /// Totals over all forks.
    pub fn total(&self) -> Counts {
        self.forks.values().fold(Counts::default(), |t, c| Counts {
            passed: t.passed + c.passed,
            failed: t.failed + c.failed,
            skipped: t.skipped + c.skipped,
        })
    }

    /// The human-readable summary: one line per fork, then every failure.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            out += &format!(
                "FAIL {}::{} [{} #{}]: {}\n",
                f.file, f.name, f.fork, f.index, f.reason
            );
        }
        for (why, n) in &self.skip_reasons {
            out += &format!("skipped {n}: {why}\n");
        }
        for (fork, c) in &self.forks {
            out += &format!(
                "{fork:<20} {:>6} passed {:>6} failed {:>6} skipped\n",
                c.passed, c.failed, c.skipped
            );
        }
        let t = self.total();
        out += &format!(
            "{:<20} {:>6} passed {:>6} failed {:>6} skipped\n",
            "total", t.passed, t.failed, t.skipped
        );
        out
    }
}
