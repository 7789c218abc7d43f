//! Closing gaps in the transcript. Chatwoot's public API ignores `after=` and answers with the
//! latest page of messages, or the page before `before=<id>` (`MessageFinder`, only `before`
//! is passed by `public/api/v1/inboxes/messages_controller.rb`). So a catch-up pages backwards
//! from the newest message until a page reaches a message the widget already has (the floor),
//! or the start of the conversation (an empty page, or one that makes no progress).

/// Where a catch-up is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUp {
    run: Option<Run>,
    /// A catch-up asked for while one was running: starts from the newest page again when
    /// that one ends, so messages created since its first page are not missed.
    queued: Option<Floor>,
}

/// How far back a catch-up must go: `Some(id)` = until a page holds a message with an id at
/// or below it; `None` = to the start of the conversation.
pub type Floor = Option<u64>;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    floor: Floor,
    /// The `before=` of the next page; `None` for the newest page.
    before: Option<u64>,
    /// A page request is out.
    waiting: bool,
}

/// What to do after a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterPage {
    /// Ask for the page before this id.
    Next(u64),
    /// The gap is closed down to this floor.
    Done(Floor),
}

fn lower(a: Floor, b: Floor) -> Floor {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    }
}

impl CatchUp {
    /// Asks for a catch-up down to `floor`.
    pub fn want(&mut self, floor: Floor) {
        match &mut self.run {
            None => {
                self.run = Some(Run {
                    floor,
                    before: None,
                    waiting: false,
                })
            }
            Some(_) => {
                self.queued = Some(match self.queued {
                    Some(q) => lower(q, floor),
                    None => floor,
                })
            }
        }
    }

    /// Whether a catch-up is under way or queued.
    #[cfg(test)]
    pub fn is_active(&self) -> bool {
        self.run.is_some()
    }

    /// The `before=` of the page to ask for now, if one should be asked for; marks it out.
    pub fn next_request(&mut self) -> Option<Option<u64>> {
        let run = self.run.as_mut().filter(|r| !r.waiting)?;
        run.waiting = true;
        Some(run.before)
    }

    /// The page request failed; it will be asked for again.
    pub fn page_failed(&mut self) {
        if let Some(r) = &mut self.run {
            r.waiting = false;
        }
    }

    /// A page arrived with these message ids (any order, hidden ones included).
    pub fn page_received(&mut self, ids: &[u64]) -> AfterPage {
        let Some(run) = &mut self.run else {
            return AfterPage::Done(None);
        };
        run.waiting = false;
        let oldest = ids.iter().copied().min();
        let reached_floor = matches!((oldest, run.floor), (Some(o), Some(f)) if o <= f);
        let progressed = match (oldest, run.before) {
            (Some(o), Some(b)) => o < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match oldest {
            Some(o) if !reached_floor && progressed => {
                run.before = Some(o);
                AfterPage::Next(o)
            }
            _ => {
                let floor = run.floor;
                self.run = self.queued.take().map(|floor| Run {
                    floor,
                    before: None,
                    waiting: false,
                });
                AfterPage::Done(floor)
            }
        }
    }

    /// Forgets everything (a new conversation).
    pub fn reset(&mut self) {
        *self = CatchUp::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_back_until_a_known_message() {
        let mut c = CatchUp::default();
        c.want(Some(50));
        assert_eq!(c.next_request(), Some(None));
        assert_eq!(c.next_request(), None, "one page at a time");
        assert_eq!(c.page_received(&[90, 80, 70]), AfterPage::Next(70));
        assert_eq!(c.next_request(), Some(Some(70)));
        assert_eq!(c.page_received(&[60, 50, 40]), AfterPage::Done(Some(50)));
        assert!(!c.is_active());
    }

    #[test]
    fn without_a_floor_pages_to_the_start() {
        let mut c = CatchUp::default();
        c.want(None);
        c.next_request();
        assert_eq!(c.page_received(&[3, 2]), AfterPage::Next(2));
        c.next_request();
        assert_eq!(c.page_received(&[]), AfterPage::Done(None));
    }

    #[test]
    fn a_server_that_ignores_before_cannot_loop() {
        let mut c = CatchUp::default();
        c.want(None);
        c.next_request();
        assert_eq!(c.page_received(&[9, 8]), AfterPage::Next(8));
        c.next_request();
        assert_eq!(c.page_received(&[9, 8]), AfterPage::Done(None));
    }

    #[test]
    fn a_catch_up_asked_for_meanwhile_runs_after_from_the_newest_page() {
        let mut c = CatchUp::default();
        c.want(None);
        c.next_request();
        c.want(Some(70));
        assert_eq!(c.page_received(&[80, 75]), AfterPage::Next(75));
        c.next_request();
        assert_eq!(c.page_received(&[]), AfterPage::Done(None));
        assert!(c.is_active(), "the queued one starts");
        assert_eq!(c.next_request(), Some(None));
    }
}
