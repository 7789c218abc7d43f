//! Closing gaps in the transcript. Chatwoot's public API ignores `after=` and answers with the
//! latest page of messages, or the page before `before=<id>` (`MessageFinder`, only `before`
//! is passed by `public/api/v1/inboxes/messages_controller.rb`). So a catch-up pages backwards
//! from the newest message until a page reaches a message the widget already has (the floor),
//! or the start of the conversation (an empty page, or one that makes no progress).

/// How many messages Chatwoot's `MessageFinder` returns per page.
pub const PAGE: usize = 20;

/// How far back a catch-up must go: `Some(id)` = until a page holds a message with an id at
/// or below it; `None` = to the start of the conversation.
pub type Floor = Option<u64>;

/// What a catch-up must cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Everything created until now that is newer than what is known, whatever is known
    /// when the run starts (after a reconnect).
    Newest,
    /// Everything down to this id (looking for a send whose outcome is unknown).
    Below(u64),
}

/// Where a catch-up is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatchUp {
    run: Option<Run>,
    /// Asked for after the running one's newest page was requested: it starts from the newest
    /// page again when that one ends, so nothing created meanwhile is missed.
    queued: Option<Queued>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Queued {
    newest: bool,
    below: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    floor: Floor,
    /// The `before=` of the next page; `None` for the newest page.
    before: Option<u64>,
    /// A page request is out.
    waiting: bool,
    /// When the newest page was asked for (caller's clock): the run covers what was stored
    /// before then.
    started: Option<u64>,
    /// The newest id of the newest page.
    top: Option<u64>,
}

/// What to do after a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterPage {
    /// Ask for the page before this id.
    Next(u64),
    /// The gap is closed down to `floor`, for what was stored before `since`.
    Done {
        /// How far back.
        floor: Floor,
        /// When the newest page was asked for.
        since: u64,
        /// The newest id seen on the newest page: everything from `floor` up to it is known.
        top: Option<u64>,
    },
}

fn lower(a: Floor, b: Floor) -> Floor {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    }
}

impl CatchUp {
    /// Asks for a catch-up; `fresh` is the floor `Want::Newest` means right now.
    pub fn want(&mut self, want: Want, fresh: Floor) {
        let floor = match want {
            Want::Newest => fresh,
            Want::Below(id) => Some(id),
        };
        match &mut self.run {
            None => {
                self.run = Some(Run {
                    floor,
                    before: None,
                    waiting: false,
                    started: None,
                    top: None,
                })
            }
            // Its newest page is still to come: it covers this too.
            Some(run) if run.started.is_none() => run.floor = lower(run.floor, floor),
            Some(_) => {
                let q = self.queued.get_or_insert_with(Queued::default);
                match want {
                    Want::Newest => q.newest = true,
                    Want::Below(id) => q.below = Some(q.below.map_or(id, |b| b.min(id))),
                }
            }
        }
    }

    /// Whether a catch-up is under way.
    #[cfg(test)]
    pub fn is_active(&self) -> bool {
        self.run.is_some()
    }

    /// The `before=` of the page to ask for now, if one should be asked for; marks it out.
    pub fn next_request(&mut self, now: u64) -> Option<Option<u64>> {
        let run = self.run.as_mut().filter(|r| !r.waiting)?;
        run.waiting = true;
        run.started.get_or_insert(now);
        Some(run.before)
    }

    /// The page request failed; it will be asked for again.
    pub fn page_failed(&mut self) {
        if let Some(r) = &mut self.run {
            r.waiting = false;
        }
    }

    /// A page arrived with these message ids (any order, hidden ones included). When a run
    /// ends, a queued one starts with `fresh` as what `Want::Newest` means by then.
    pub fn page_received(&mut self, ids: &[u64], fresh: impl FnOnce() -> Floor) -> AfterPage {
        let Some(run) = &mut self.run else {
            return AfterPage::Done {
                floor: None,
                since: 0,
                top: None,
            };
        };
        run.waiting = false;
        if run.before.is_none() {
            run.top = ids.iter().copied().max();
        }
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
                let (floor, since, top) = (run.floor, run.started.unwrap_or(0), run.top);
                self.run = None;
                if let Some(q) = self.queued.take() {
                    let newest = if q.newest { fresh() } else { Some(u64::MAX) };
                    let floor = lower(newest, q.below.map(Some).unwrap_or(Some(u64::MAX)));
                    self.run = Some(Run {
                        floor,
                        before: None,
                        waiting: false,
                        started: None,
                        top: None,
                    });
                }
                AfterPage::Done { floor, since, top }
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
        c.want(Want::Newest, Some(50));
        assert_eq!(c.next_request(0), Some(None));
        assert_eq!(c.next_request(0), None, "one page at a time");
        assert_eq!(c.page_received(&[90, 80, 70], || None), AfterPage::Next(70));
        assert_eq!(c.next_request(0), Some(Some(70)));
        assert!(matches!(
            c.page_received(&[60, 50, 40], || None),
            AfterPage::Done {
                floor: Some(50),
                ..
            }
        ));
        assert!(!c.is_active());
    }

    #[test]
    fn without_a_floor_pages_to_the_start() {
        let mut c = CatchUp::default();
        c.want(Want::Newest, None);
        c.next_request(0);
        assert_eq!(c.page_received(&[3, 2], || None), AfterPage::Next(2));
        c.next_request(0);
        assert!(matches!(
            c.page_received(&[], || None),
            AfterPage::Done { floor: None, .. }
        ));
    }

    #[test]
    fn a_server_that_ignores_before_cannot_loop() {
        let mut c = CatchUp::default();
        c.want(Want::Newest, None);
        c.next_request(0);
        assert_eq!(c.page_received(&[9, 8], || None), AfterPage::Next(8));
        c.next_request(0);
        assert!(matches!(
            c.page_received(&[9, 8], || None),
            AfterPage::Done { floor: None, .. }
        ));
    }

    #[test]
    fn a_want_before_the_newest_page_joins_the_run() {
        let mut c = CatchUp::default();
        c.want(Want::Newest, None);
        c.want(Want::Below(40), Some(60));
        assert_eq!(c.next_request(0), Some(None));
        assert_eq!(c.page_received(&[50], || None), AfterPage::Next(50));
        c.next_request(0);
        assert!(matches!(
            c.page_received(&[], || None),
            AfterPage::Done { floor: None, .. }
        ));
        assert!(!c.is_active(), "nothing queued");
    }

    #[test]
    fn a_want_after_the_newest_page_runs_again_with_the_floor_known_then() {
        let mut c = CatchUp::default();
        c.want(Want::Newest, None);
        c.next_request(0);
        c.want(Want::Newest, None);
        assert_eq!(c.page_received(&[80, 75], || None), AfterPage::Next(75));
        c.next_request(0);
        assert!(matches!(
            c.page_received(&[], || Some(75)),
            AfterPage::Done { floor: None, .. }
        ));
        assert!(c.is_active(), "the queued one starts");
        assert_eq!(c.next_request(0), Some(None));
        assert!(
            matches!(
                c.page_received(&[90, 80, 75], || None),
                AfterPage::Done {
                    floor: Some(75),
                    ..
                }
            ),
            "down to what the first run knew, not to the start again"
        );
    }
}
