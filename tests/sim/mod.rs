//! A deterministic simulation: the real protocol core (any [`ChatBackend`]) against a sans-IO
//! model of the real server, over a simulated network, on a virtual clock, with faults drawn
//! from a seed. Shaped like quinn-proto's `Pair` (a virtual clock that jumps to the next
//! deadline of either side) and str0m's netem (latency and loss injected in the harness, never
//! in the protocol code).
//!
//! The harness plays the browser driver's part by the driver's own rules: one socket at a time
//! with a generation guard, every HTTP request aborted after its `timeout` and reported as
//! status 0, the widget state ([`ChatState`]) fed with every event, `mark_read` when an
//! incoming message arrives with the window open, and a page reload that rebuilds the backend
//! from its last snapshot with an empty state.
#![allow(dead_code)]

pub mod chatwoot;
pub mod gms;
pub mod push;

use chat_widget::core::{ChatBackend, HttpRequest, Millis, SocketCommand};
use chat_widget::state::{ChatState, Notice};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// splitmix64: small, fast, and the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// One socket connection as the server sees it.
pub type ConnId = u64;

/// What a server model sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOut {
    /// A text frame to one connection.
    Frame(ConnId, String),
    /// The server closes a connection.
    Close(ConnId),
    /// The answer to a request the server held (a long poll): request id, status, body.
    Answer(u64, u16, String),
}

/// What a model has scheduled to send, released in time order (ties in the order scheduled).
#[derive(Debug, Default)]
pub struct Outbound {
    items: Vec<(Millis, u64, ServerOut)>,
    seq: u64,
}

impl Outbound {
    /// Schedules `out` for `at`.
    pub fn push(&mut self, at: Millis, out: ServerOut) {
        self.seq += 1;
        self.items.push((at, self.seq, out));
    }

    /// Takes what is due by `now`, in order.
    pub fn due(&mut self, now: Millis) -> Vec<ServerOut> {
        let (mut due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|(t, _, _)| *t <= now);
        self.items = keep;
        due.sort_by_key(|(t, s, _)| (*t, *s));
        due.into_iter().map(|(_, _, o)| o).collect()
    }

    /// When the next item is due.
    pub fn next(&self) -> Option<Millis> {
        self.items.iter().map(|(t, _, _)| *t).min()
    }

    /// Keeps only what `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&ServerOut) -> bool) {
        self.items.retain(|(_, _, o)| keep(o));
    }

    /// Drops every frame and close scheduled for `conn` (it is gone).
    pub fn forget_conn(&mut self, conn: ConnId) {
        self.retain(|o| !matches!(o, ServerOut::Frame(c, _) | ServerOut::Close(c) if *c == conn));
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

/// A sans-IO model of a real server, written from that server's source.
pub trait ServerModel {
    /// A socket connects; `false` refuses it (the client sees it fail to open).
    fn connect(&mut self, conn: ConnId, now: Millis) -> bool;
    /// A frame from a connection.
    fn frame(&mut self, conn: ConnId, text: &str, now: Millis);
    /// A connection closed (by the client or the network).
    fn closed(&mut self, conn: ConnId, now: Millis);
    /// An HTTP request reached the server, which acts on it: its status and body, or `None`
    /// when the server holds it and answers later with [`ServerOut::Answer`].
    fn http(&mut self, req: &HttpRequest, now: Millis) -> Option<(u16, String)>;
    /// Frames and closes due by `now` (pings, broadcasts from a worker pool, the agent).
    fn poll(&mut self, now: Millis) -> Vec<ServerOut>;
    /// When `poll` next has something.
    fn next_deadline(&self) -> Option<Millis>;
}

/// Builds the backend under test, from a snapshot after a reload.
pub type Factory = Box<dyn Fn(Option<&str>) -> Box<dyn ChatBackend>>;

/// Something scheduled on the virtual clock.
#[derive(Clone, Debug)]
enum Ev {
    /// The socket the client asked for is open (or, `accepted == false`, failed).
    Opened { conn: ConnId, accepted: bool },
    /// A frame reaches the client.
    ToClient { conn: ConnId, text: String },
    /// The client's socket closed under it.
    ClientClosed { conn: ConnId, code: u16 },
    /// A frame reaches the server.
    ToServer { conn: ConnId, text: String },
    /// The server learns a connection is gone.
    ServerClosed { conn: ConnId },
    /// A request reaches the server.
    HttpArrives { life: u32, req: HttpRequest },
    /// The reloaded page has loaded and the widget starts.
    PageLoaded { life: u32 },
    /// An answer (or the driver's timeout, status 0) reaches the client.
    HttpAnswer {
        life: u32,
        id: u64,
        status: u16,
        body: String,
    },
}

/// Network conditions and faults the scenario switches on and off.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The server accepts no connections and answers no requests (down, restarting).
    pub server_down: bool,
    /// The next N answers are lost after the server acted (the client sees status 0).
    pub lose_answers: u32,
    /// The next N answers are held this long (beyond the driver's timeout: status 0).
    pub hang_answers: u32,
    /// The next N requests fail with 500 before the server acts on them.
    pub fail_before: u32,
    /// Extra latency on every packet (ms).
    pub extra_latency: Millis,
}

/// Counts a run reports.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// HTTP requests the client made, with the virtual time each was made.
    pub requests: Vec<Millis>,
    /// Socket frames the client sent, with the virtual time of each.
    pub frames: Vec<Millis>,
    /// Sockets opened.
    pub sockets: u32,
    /// Page reloads.
    pub reloads: u32,
    /// When each reload happened.
    pub reload_times: Vec<Millis>,
    /// Faults injected.
    pub faults: u32,
    /// Frames handed to the client, when [`Sim::record_delivered`] is on.
    pub delivered: Vec<String>,
    /// When each visitor message was typed, and when it was first shown as sent (client ids).
    pub typed_at: HashMap<String, Millis>,
    /// See `typed_at`.
    pub confirmed_at: HashMap<String, Millis>,
}

/// The simulated client: a backend, the widget state it feeds, and its socket.
pub struct Client {
    /// The protocol core under test.
    pub backend: Box<dyn ChatBackend>,
    /// What the visitor sees (the same transitions the reactive store runs).
    pub state: ChatState,
    /// The current socket.
    conn: Option<ConnId>,
    /// Page lifetime: answers to an earlier page's requests are dropped.
    life: u32,
    /// Outstanding requests: (id, deadline at which the driver aborts it).
    requests: HashMap<u64, Millis>,
    /// Device clock minus true time (ms).
    pub skew: i64,
    /// A reload is under way: nothing runs until the page has loaded.
    loading: bool,
}

/// The whole simulation.
pub struct Sim<M: ServerModel> {
    /// Virtual true time (ms).
    pub now: Millis,
    /// The server model.
    pub server: M,
    /// The client.
    pub client: Client,
    factory: Factory,
    queue: BinaryHeap<Reverse<(Millis, u64, usize)>>,
    events: Vec<Option<Ev>>,
    seq: u64,
    next_conn: ConnId,
    /// Connections that are up on the server side.
    live: BTreeSet<ConnId>,
    /// Half-open connections: everything sent on them vanishes, and nobody is told.
    stalled: BTreeSet<ConnId>,
    /// Requests the server holds, with the page lifetime that made them.
    held: HashMap<u64, u32>,
    /// Per direction and connection, the last delivery time (TCP keeps order).
    last_delivery: HashMap<(ConnId, bool), Millis>,
    /// Network randomness (latency).
    pub rng: Rng,
    /// Faults in force.
    pub faults: Faults,
    /// What happened, for reports.
    pub stats: Stats,
    /// A readable trace of the run, printed when an invariant fails.
    pub trace: Vec<String>,
    /// Keep every frame handed to the client in `stats.delivered`.
    pub record_delivered: bool,
}

/// The start of virtual time: a realistic epoch, far from zero so clock skew stays positive.
pub const EPOCH: Millis = 1_760_000_000_000;

impl<M: ServerModel> Sim<M> {
    /// A simulation of `server` and a client built by `factory`.
    pub fn new(server: M, factory: Factory, seed: u64, skew: i64) -> Self {
        let backend = factory(None);
        Sim {
            now: EPOCH,
            server,
            client: Client {
                backend,
                state: ChatState::default(),
                conn: None,
                life: 0,
                requests: HashMap::new(),
                skew,
                loading: false,
            },
            factory,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            next_conn: 0,
            live: BTreeSet::new(),
            stalled: BTreeSet::new(),
            held: HashMap::new(),
            last_delivery: HashMap::new(),
            rng: Rng::new(seed.rotate_left(7)),
            faults: Faults::default(),
            stats: Stats::default(),
            trace: Vec::new(),
            record_delivered: false,
        }
    }

    /// The client's clock.
    pub fn client_now(&self) -> Millis {
        (self.now as i64 + self.client.skew) as Millis
    }

    fn log(&mut self, line: impl Into<String>) {
        let line = format!("{:>9} {}", self.now - EPOCH, line.into());
        self.trace.push(line);
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.events.push(Some(ev));
        self.queue
            .push(Reverse((at, self.seq, self.events.len() - 1)));
    }

    fn latency(&mut self) -> Millis {
        self.rng.range(5, 150) + self.faults.extra_latency
    }

    /// When a packet sent now on `conn` in one direction arrives (in order per direction).
    fn deliver_at(&mut self, conn: ConnId, to_server: bool) -> Millis {
        let at = self.now + self.latency();
        let last = self.last_delivery.entry((conn, to_server)).or_insert(0);
        let at = at.max(*last);
        *last = at;
        at
    }

    /// Starts the client (a first page load).
    pub fn start(&mut self) {
        let now = self.client_now();
        self.client.backend.start(now);
        self.drain_client();
    }

    /// The visitor types and sends `text` (what `Controller::send` does).
    pub fn visitor_sends(&mut self, client_id: &str, text: &str) {
        if self.client.loading {
            // Nothing to type into while the page loads: the visitor types once it is there.
            self.client.loading = false;
            self.start();
        }
        let now = self.client_now();
        self.log(format!("visitor sends {client_id} {text:?}"));
        self.stats
            .typed_at
            .entry(client_id.to_string())
            .or_insert(self.now);
        self.client
            .state
            .transcript
            .add_pending(client_id, text, now as i64);
        self.client.backend.send_message(client_id, text, now);
        self.drain_client();
    }

    /// The page reloads: the backend is rebuilt from its snapshot with an empty widget state;
    /// the old page's socket closes and its requests' answers are never read.
    pub fn reload(&mut self) {
        self.log("page reload");
        self.stats.reloads += 1;
        self.stats.reload_times.push(self.now);
        self.rebuild_backend();
        self.client.state = ChatState::default();
        self.client.loading = true;
        // Loading the page and the widget takes a moment; the backend starts after.
        let at = self.now + self.rng.range(50, 1_500);
        let life = self.client.life;
        self.schedule(at, Ev::PageLoaded { life });
    }

    /// A new backend from the old one's snapshot, as a new page or `start_new` makes it: the old
    /// socket closes and the answers to the old backend's requests are never read.
    fn rebuild_backend(&mut self) {
        let snapshot = self.client.backend.snapshot();
        if let Some(conn) = self.client.conn.take() {
            self.close_from_client(conn);
        }
        self.client.life += 1;
        self.client.requests.clear();
        self.client.backend = (self.factory)(Some(&snapshot));
    }

    /// The visitor clicks "Start a new conversation" after the last one ended (what
    /// `Controller::start_new` does): a new backend from the ended one's snapshot, and a state
    /// that keeps only the visitor's unsent messages.
    pub fn start_new(&mut self) {
        self.log("visitor starts a new conversation");
        self.rebuild_backend();
        self.client.state = self.client.state.for_new_conversation();
        self.client.loading = false;
        self.start();
    }

    /// The visitor presses Retry on a message that was not sent.
    pub fn visitor_retries(&mut self, client_id: &str) {
        let Some(text) = self
            .client
            .state
            .transcript
            .find(client_id)
            .map(|m| m.text.clone())
        else {
            return;
        };
        self.log(format!("visitor retries {client_id}"));
        let now = self.client_now();
        self.client
            .state
            .transcript
            .set_status(client_id, chat_widget::core::DeliveryStatus::Pending);
        self.client.backend.send_message(client_id, &text, now);
        self.drain_client();
    }

    /// The network drops every connection (both sides see it close).
    pub fn drop_connections(&mut self) {
        self.log("fault: every connection dropped");
        self.stats.faults += 1;
        for conn in std::mem::take(&mut self.live) {
            self.server.closed(conn, self.now);
            if self.client.conn == Some(conn) {
                let at = self.now + self.latency();
                self.schedule(at, Ev::ClientClosed { conn, code: 1006 });
            }
        }
    }

    /// The current connection goes half-open: nothing arrives either way, nobody is told.
    pub fn stall_connection(&mut self) {
        if let Some(conn) = self.client.conn {
            self.log(format!("fault: connection {conn} stalls (half-open)"));
            self.stats.faults += 1;
            self.stalled.insert(conn);
        }
    }

    fn close_from_client(&mut self, conn: ConnId) {
        if self.live.contains(&conn) && !self.stalled.contains(&conn) {
            let at = self.deliver_at(conn, true);
            self.schedule(at, Ev::ServerClosed { conn });
        } else if self.live.remove(&conn) {
            // Half-open: the server only notices much later (TCP keepalive); close it then.
            let at = self.now + 30_000;
            self.schedule(at, Ev::ServerClosed { conn });
        }
    }

    /// Drains everything the client produced and carries it onto the network.
    fn drain_client(&mut self) {
        loop {
            let mut busy = false;
            while let Some(cmd) = self.client.backend.poll_socket() {
                busy = true;
                self.socket_command(cmd);
            }
            while let Some(req) = self.client.backend.poll_http() {
                busy = true;
                self.request(req);
            }
            let mut incoming = false;
            while let Some(event) = self.client.backend.poll_event() {
                busy = true;
                let now = self.client_now();
                if let chat_widget::core::ChatEvent::MessageUpdated(m) = &event {
                    if let (Some(id), chat_widget::core::DeliveryStatus::Sent) =
                        (&m.client_id, m.status)
                    {
                        let at = self.now;
                        self.stats.confirmed_at.entry(id.clone()).or_insert(at);
                    }
                }
                if let Some(Notice::IncomingMessage(_)) = self.client.state.apply(event, now) {
                    incoming = true;
                }
            }
            if incoming {
                // The driver marks read when something arrives while the window is open.
                let now = self.client_now();
                self.client.backend.mark_read(now);
                continue;
            }
            if !busy {
                break;
            }
        }
    }

    fn socket_command(&mut self, cmd: SocketCommand) {
        match cmd {
            SocketCommand::Open { .. } => {
                if let Some(old) = self.client.conn.take() {
                    self.close_from_client(old);
                }
                self.next_conn += 1;
                let conn = self.next_conn;
                self.client.conn = Some(conn);
                self.stats.sockets += 1;
                let accepted = !self.faults.server_down && self.server.connect(conn, self.now);
                if accepted {
                    self.live.insert(conn);
                }
                self.log(format!("socket {conn} opens (accepted: {accepted})"));
                let at = self.now + self.latency() * 2;
                self.schedule(at, Ev::Opened { conn, accepted });
            }
            SocketCommand::Send(text) => {
                self.stats.frames.push(self.now);
                let Some(conn) = self.client.conn else {
                    return;
                };
                if self.live.contains(&conn) && !self.stalled.contains(&conn) {
                    let at = self.deliver_at(conn, true);
                    self.schedule(at, Ev::ToServer { conn, text });
                }
            }
            SocketCommand::Close { .. } => {
                if let Some(conn) = self.client.conn.take() {
                    self.close_from_client(conn);
                }
            }
        }
    }

    fn request(&mut self, req: HttpRequest) {
        self.stats.requests.push(self.now);
        let what = match req.url.split("/inboxes/").nth(1) {
            Some(path) => path.to_string(),
            None => format!("{} {}", req.url, req.body.as_deref().unwrap_or("")),
        };
        self.log(format!("http {} {:?} {what}", req.id, req.method));
        let deadline = self.now + req.timeout;
        self.client.requests.insert(req.id, deadline);
        let life = self.client.life;
        if self.faults.fail_before > 0 {
            self.faults.fail_before -= 1;
            let at = self.now + self.latency() * 2;
            self.schedule(
                at,
                Ev::HttpAnswer {
                    life,
                    id: req.id,
                    status: 500,
                    body: "{}".into(),
                },
            );
            return;
        }
        let at = self.now + self.latency();
        self.schedule(at, Ev::HttpArrives { life, req });
    }

    fn answer(&mut self, life: u32, req: &HttpRequest, status: u16, body: String) {
        self.answer_id(life, req.id, status, body);
    }

    fn answer_id(&mut self, life: u32, id: u64, status: u16, body: String) {
        let Some(&deadline) = self.client.requests.get(&id) else {
            return;
        };
        let mut at = self.now + self.latency();
        let mut status = status;
        let mut body = body;
        if self.faults.lose_answers > 0 {
            self.faults.lose_answers -= 1;
            self.log(format!("fault: answer to {id} lost after the server acted"));
            self.stats.faults += 1;
            (status, body) = (0, String::new());
        } else if self.faults.hang_answers > 0 {
            self.faults.hang_answers -= 1;
            self.log(format!("fault: answer to {id} hangs"));
            self.stats.faults += 1;
            at += 60_000;
        }
        if at > deadline {
            // The driver aborts it: status 0 at the deadline; the real answer is never read.
            (at, status, body) = (deadline, 0, String::new());
        }
        self.schedule(
            at,
            Ev::HttpAnswer {
                life,
                id,
                status,
                body,
            },
        );
    }

    /// The next moment anything happens.
    fn next_time(&self) -> Option<Millis> {
        let queued = self.queue.peek().map(|Reverse((t, _, _))| *t);
        let client = self
            .client
            .backend
            .poll_timeout()
            .filter(|_| !self.client.loading)
            .map(|t| (t as i64 - self.client.skew).max(self.now as i64) as Millis);
        [queued, client, self.server.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs until `until` (true time), processing everything due on the way.
    pub fn run_until(&mut self, until: Millis) {
        while let Some(t) = self.next_time().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.step();
        }
        self.now = self.now.max(until);
    }

    fn step(&mut self) {
        // Server output due now.
        if self.server.next_deadline().is_some_and(|d| d <= self.now) {
            for out in self.server.poll(self.now) {
                self.server_out(out);
            }
        }
        // Client timers due now (on its own clock).
        if !self.client.loading
            && self
                .client
                .backend
                .poll_timeout()
                .is_some_and(|t| t <= self.client_now())
        {
            let now = self.client_now();
            self.client.state.expire(now);
            self.client.backend.handle_timeout(now);
            self.drain_client();
        }
        // Network events due now.
        while let Some(Reverse((t, _, i))) = self.queue.peek().copied() {
            if t > self.now {
                break;
            }
            self.queue.pop();
            if let Some(ev) = self.events[i].take() {
                self.event(ev);
            }
        }
    }

    fn server_out(&mut self, out: ServerOut) {
        match out {
            ServerOut::Frame(conn, text) => {
                if self.live.contains(&conn) && !self.stalled.contains(&conn) {
                    let at = self.deliver_at(conn, false);
                    self.schedule(at, Ev::ToClient { conn, text });
                }
            }
            ServerOut::Answer(id, status, body) => {
                if let Some(life) = self.held.remove(&id) {
                    self.answer_id(life, id, status, body);
                }
            }
            ServerOut::Close(conn) => {
                if self.live.remove(&conn) && !self.stalled.contains(&conn) {
                    let at = self.deliver_at(conn, false);
                    self.schedule(at, Ev::ClientClosed { conn, code: 1000 });
                }
            }
        }
    }

    fn event(&mut self, ev: Ev) {
        let now = self.client_now();
        match ev {
            Ev::PageLoaded { life } => {
                if life == self.client.life && self.client.loading {
                    self.client.loading = false;
                    self.start();
                }
            }
            Ev::Opened { conn, accepted } => {
                if self.client.conn != Some(conn) {
                    return;
                }
                if accepted && self.live.contains(&conn) {
                    self.client.backend.handle_open(now);
                } else {
                    self.client.conn = None;
                    self.client.backend.handle_close(1006, "", now);
                }
                self.drain_client();
            }
            Ev::ToClient { conn, text } => {
                if self.client.conn == Some(conn) && !self.stalled.contains(&conn) {
                    if self.record_delivered {
                        self.stats.delivered.push(text.clone());
                        if text != "#1" {
                            let excerpt: String = text.chars().take(160).collect();
                            self.log(format!("<- {conn} {excerpt}"));
                        }
                    }
                    self.client.backend.handle_text(&text, now);
                    self.drain_client();
                }
            }
            Ev::ClientClosed { conn, code } => {
                if self.client.conn == Some(conn) {
                    self.client.conn = None;
                    self.log(format!("socket {conn} closed under the client ({code})"));
                    self.client.backend.handle_close(code, "", now);
                    self.drain_client();
                }
            }
            Ev::ToServer { conn, text } => {
                if self.live.contains(&conn) && !self.stalled.contains(&conn) {
                    if self.record_delivered && text != "#2" {
                        let excerpt: String = text.chars().take(160).collect();
                        self.log(format!("-> {conn} {excerpt}"));
                    }
                    self.server.frame(conn, &text, self.now);
                }
            }
            Ev::ServerClosed { conn } => {
                self.live.remove(&conn);
                self.server.closed(conn, self.now);
            }
            Ev::HttpArrives { life, req } => {
                if self.faults.server_down {
                    self.answer(life, &req, 0, String::new());
                    return;
                }
                match self.server.http(&req, self.now) {
                    Some((status, body)) => self.answer(life, &req, status, body),
                    None => {
                        self.held.insert(req.id, life);
                    }
                }
            }
            Ev::HttpAnswer {
                life,
                id,
                status,
                body,
            } => {
                if life != self.client.life || self.client.requests.remove(&id).is_none() {
                    return; // An earlier page's request, or already timed out.
                }
                let excerpt: String = body.chars().take(400).collect();
                self.log(format!("http {id} answered {status} {excerpt}"));
                self.client
                    .backend
                    .handle_http_response(id, status, &body, now);
                self.drain_client();
            }
        }
    }

    /// The most requests made in any window of `window` ms, and the reloads in that window.
    pub fn peak_request_rate(&self, window: Millis) -> (usize, usize) {
        let r = &self.stats.requests;
        let mut best = (0, 0);
        let mut start = 0;
        for end in 0..r.len() {
            while r[end] - r[start] > window {
                start += 1;
            }
            let reloads = self
                .stats
                .reload_times
                .iter()
                .filter(|t| (r[start]..=r[end]).contains(t))
                .count();
            best = best.max((end - start + 1, reloads));
        }
        best
    }

    /// The last `n` trace lines.
    pub fn tail(&self, n: usize) -> String {
        let from = self.trace.len().saturating_sub(n);
        self.trace[from..].join("\n")
    }

    /// A seed's account, built only when it failed or runs verbosely: `header`, the steps,
    /// the trace's end, the client's transcript, what `server` writes about the server, and one
    /// `VIOLATION: ` line per problem. `Err` with the account when there are problems; printed
    /// when verbose.
    pub fn verdict<S: std::fmt::Debug>(
        &self,
        verbose: bool,
        header: impl std::fmt::Display,
        steps: &[(Millis, S)],
        server: impl FnOnce(&mut String),
        problems: &[String],
    ) -> Result<(), String> {
        if !verbose && problems.is_empty() {
            return Ok(());
        }
        let steps: Vec<String> = steps
            .iter()
            .map(|(t, s)| format!("{}:{s:?}", t - EPOCH))
            .collect();
        let mut out = format!(
            "{header}\nsteps: {steps:?}\n--- trace ---\n{}\n--- client transcript ---\n",
            self.tail(if verbose { usize::MAX } else { 120 })
        );
        for e in self.client.state.transcript.entries() {
            let m = &e.message;
            let text: String = m.text.chars().take(80).collect();
            out.push_str(&format!(
                "{:?} {} {:?} {:?} {text:?}",
                m.seq, m.id, m.client_id, m.status
            ));
            if let Some(rich) = &m.rich {
                out.push_str(&format!(" {rich:?}"));
            }
            out.push('\n');
        }
        server(&mut out);
        for p in problems {
            out.push_str(&format!("VIOLATION: {p}\n"));
        }
        if problems.is_empty() {
            println!("{out}");
            Ok(())
        } else {
            Err(out)
        }
    }
}

/// Runs a simulation test's seeds, the same way for every backend:
/// `SIM_SEED=S` runs one seed verbosely (and panics with its trace if it fails);
/// `SIM_SURVEY=1` runs `SIM_SEEDS` seeds and tallies every kind of violation instead of stopping;
/// otherwise the `regressions` and then `SIM_SEEDS` seeds (5,000 in release builds, 200 without)
/// run until the first failure, which panics with its trace and how to rerun it (`test` names
/// the test binary). Returns the number of seeds and their reports when all passed.
pub fn run_seeds<R>(
    test: &str,
    regressions: &[u64],
    run: impl Fn(u64, bool) -> Result<R, String>,
) -> Option<(u64, Vec<R>)> {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        let seed: u64 = seed.parse().expect("SIM_SEED is a number");
        if let Err(report) = run(seed, true) {
            panic!("{report}");
        }
        return None;
    }
    let count: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 200 } else { 5_000 });
    if std::env::var("SIM_SURVEY").is_ok() {
        survey(count, &run);
        return None;
    }
    let mut reports = Vec::new();
    for seed in regressions.iter().copied().chain(0..count) {
        match run(seed, false) {
            Ok(r) => reports.push(r),
            Err(report) => panic!(
                "{report}\nrerun with SIM_SEED={seed} cargo test --test {test} -- --nocapture"
            ),
        }
    }
    Some((count, reports))
}

/// Runs every seed and tallies the kinds of violation (the lines starting `VIOLATION: ` in a
/// failure's text, without their quoted text and numbers) instead of stopping at the first: how
/// the simulation judged a core before it was rewritten, for instance.
fn survey<R>(count: u64, run: &impl Fn(u64, bool) -> Result<R, String>) {
    let mut kinds: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut failed = 0;
    for seed in 0..count {
        if let Err(report) = run(seed, false) {
            failed += 1;
            for line in report.lines().filter_map(|l| l.strip_prefix("VIOLATION: ")) {
                let kind: String = line
                    .split('"')
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 0)
                    .map(|(_, p)| p)
                    .collect::<String>()
                    .chars()
                    .filter(|c| !c.is_ascii_digit())
                    .collect();
                kinds.entry(kind).or_insert((0, seed)).0 += 1;
            }
        }
    }
    println!("survey: {failed} of {count} seeds violate an invariant");
    for (kind, (n, first)) in kinds {
        println!("{n:>6} × {kind}   (first: seed {first})");
    }
}
