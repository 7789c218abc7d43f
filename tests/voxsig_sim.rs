//! The Voxsig core against a model of real Chatwoot (tests/sim/chatwoot.rs) over a simulated
//! network, seed by seed. Each seed draws a schedule of visitor sends, agent messages, bursts,
//! private notes, deletions and resolves, and faults: dropped and half-open sockets, answers
//! lost after the server acted, hung requests, 500s, server restarts, page reloads with sends in
//! flight, broadcasts reordered and delayed, the device clock ±10 min, the contact or the
//! conversation deleted. Then the network heals and, after a quiet period, the invariants a
//! visitor cares about are checked: every message typed is on the server exactly once, every
//! agent message is shown exactly once in server order, nothing deleted is shown, nothing stays
//! pending, and the request rate stays bounded.
//!
//! `SIM_SEEDS=N` runs N seeds (default 5,000 with `--release`, 200 without); `SIM_SEED=S` runs
//! one seed and prints its trace.
//! A long run: `SIM_SEEDS=1000000 cargo test --release --test voxsig_sim`.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use chat_widget::config::VoxsigConfig;
use chat_widget::core::voxsig::{VoxsigBackend, VoxsigSnapshot};
use chat_widget::core::{ConnectionState, DeliveryStatus, Millis};
use sim::chatwoot::{Chatwoot, Config, BASE, INBOX};
use sim::{Rng, Sim, EPOCH};

/// Seeds that once failed, kept as regression tests (run first, always).
const REGRESSIONS: &[u64] = &[];

/// How long the schedule of actions and faults lasts.
const ACTIVE: Millis = 150_000;
/// Quiet time after healing: longer than every backoff cap, so retries have converged.
const QUIET: Millis = 150_000;

#[derive(Clone, Debug)]
enum Step {
    VisitorSends,
    AgentSays,
    AgentBurst(u32),
    PrivateNote,
    AgentDeletes,
    AgentResolves,
    Drop,
    Stall,
    LoseAnswers(u32),
    HangAnswers(u32),
    FailBefore(u32),
    Restart(Millis),
    ServerUp,
    Reload,
    DeleteContact,
    DeleteConversation,
}

fn config() -> VoxsigConfig {
    VoxsigConfig {
        base_url: BASE.into(),
        inbox_identifier: INBOX.into(),
        account_id: None,
        user_id: None,
        presence_interval_ms: 20_000,
    }
}

/// Draws a seed's schedule: (true time, step).
fn schedule(rng: &mut Rng) -> Vec<(Millis, Step)> {
    // Some seeds are calm, some are storms.
    let fault_rate = [0.0, 0.15, 0.35, 0.6][rng.below(4) as usize];
    let deletions = rng.chance(0.15);
    let mut steps = Vec::new();
    let mut t = EPOCH + 500;
    // The visitor opens the chat and writes first: that creates the conversation.
    steps.push((t, Step::VisitorSends));
    while t < EPOCH + ACTIVE {
        t += rng.range(200, 4_000);
        let step = if rng.chance(fault_rate) {
            match rng.below(10) {
                0 | 1 => Step::Drop,
                2 => Step::Stall,
                3 => Step::LoseAnswers(rng.range(1, 3) as u32),
                4 => Step::HangAnswers(1),
                5 => Step::FailBefore(rng.range(1, 4) as u32),
                6 => Step::Restart(rng.range(500, 20_000)),
                7 | 8 => Step::Reload,
                _ if deletions && rng.chance(0.5) => Step::DeleteContact,
                _ if deletions => Step::DeleteConversation,
                _ => Step::Reload,
            }
        } else {
            match rng.below(12) {
                0..=4 => Step::VisitorSends,
                5..=7 => Step::AgentSays,
                8 => Step::AgentBurst(rng.range(2, 25) as u32),
                9 => Step::PrivateNote,
                10 => Step::AgentDeletes,
                _ => Step::AgentResolves,
            }
        };
        if let Step::Restart(down) = step {
            steps.push((t + down, Step::ServerUp));
        }
        steps.push((t, step));
    }
    steps.sort_by_key(|(t, _)| *t);
    steps
}

/// What a run did, for the summary.
#[derive(Debug, Default)]
struct Report {
    typed: usize,
    agent: usize,
    faults: u32,
    reloads: u32,
    peak_rate: usize,
}

fn run(seed: u64, verbose: bool) -> Result<Report, String> {
    let mut rng = Rng::new(seed);
    let skew = rng.range(0, 1_200_000) as i64 - 600_000;
    let jitter = [0, 50, 400, 3_000][rng.below(4) as usize];
    let server = Chatwoot::new(
        seed,
        Config {
            broadcast_jitter: jitter,
        },
    );
    let backend_seed = rng.next_u64();
    let factory = Box::new(move |snapshot: Option<&str>| {
        Box::new(VoxsigBackend::new(&config(), backend_seed, snapshot))
            as Box<dyn chat_widget::core::ChatBackend>
    });
    let mut sim = Sim::new(server, factory, seed, skew);
    let steps = schedule(&mut rng);
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut deletions = false;
    sim.start();
    for (at, step) in &steps {
        sim.run_until(*at);
        let now = sim.now;
        match step {
            Step::VisitorSends => {
                let n = typed.len();
                // Same text twice on purpose now and then: matching by text must not confuse them.
                let text = if n > 0 && rng.chance(0.1) {
                    typed[n - 1].1.clone()
                } else {
                    format!("visitor {n}")
                };
                let id = format!("cw-{seed}-{n}");
                sim.visitor_sends(&id, &text);
                typed.push((id, text));
            }
            Step::AgentSays => {
                let n = sim.server.messages.len();
                sim.server.agent_says(&format!("agent {n}"), false, now);
            }
            Step::AgentBurst(k) => {
                for i in 0..*k {
                    sim.server
                        .agent_says(&format!("burst {now} {i}"), false, now);
                }
            }
            Step::PrivateNote => {
                sim.server.agent_says("private note", true, now);
            }
            Step::AgentDeletes => sim.server.agent_deletes_last(now),
            Step::AgentResolves => sim.server.agent_resolves(now),
            Step::Drop => sim.drop_connections(),
            Step::Stall => sim.stall_connection(),
            Step::LoseAnswers(k) => sim.faults.lose_answers += k,
            Step::HangAnswers(k) => sim.faults.hang_answers += k,
            Step::FailBefore(k) => sim.faults.fail_before += k,
            Step::Restart(_) => {
                sim.server.restart();
                sim.drop_connections();
                sim.faults.server_down = true;
            }
            Step::ServerUp => sim.faults.server_down = false,
            Step::Reload => sim.reload(),
            Step::DeleteContact => {
                deletions = true;
                sim.server.delete_contact();
            }
            Step::DeleteConversation => {
                deletions = true;
                sim.server.delete_conversation();
            }
        }
    }
    // Heal and let everything settle.
    sim.faults = Default::default();
    let active_end = sim.now;
    sim.run_until(active_end + QUIET);
    let report = Report {
        typed: typed.len(),
        agent: sim
            .server
            .messages
            .values()
            .filter(|m| m.message_type == 1)
            .count(),
        faults: sim.stats.faults,
        reloads: sim.stats.reloads,
        peak_rate: sim.peak_request_rate(10_000).0,
    };
    let problems = check(&sim, &typed, deletions, active_end);
    sim.verdict(
        verbose,
        format!("seed {seed}: skew {skew} ms, broadcast jitter {jitter} ms"),
        &steps,
        |out| {
            out.push_str("--- server messages ---\n");
            for m in sim.server.messages.values() {
                out.push_str(&format!("{m:?}\n"));
            }
        },
        &problems,
    )?;
    Ok(report)
}

/// The invariants, in a visitor's terms; returns every violation.
fn check(
    sim: &Sim<Chatwoot>,
    typed: &[(String, String)],
    deletions: bool,
    active_end: Millis,
) -> Vec<String> {
    let mut problems = Vec::new();
    let server = &sim.server;
    let entries = sim.client.state.transcript.entries();
    let snapshot: VoxsigSnapshot =
        serde_json::from_str(&sim.client.backend.snapshot()).unwrap_or_default();

    // Nothing shown twice.
    let mut ids = std::collections::HashSet::new();
    for e in entries {
        if !ids.insert(e.message.id.clone()) {
            problems.push(format!("message {} shown twice", e.message.id));
        }
    }

    // Every message typed is on the server exactly once (or visibly failed and not there).
    let live_conversation = |c: u64| server.conversations.get(&c).is_some_and(|c| !c.deleted);
    let incoming = server.incoming();
    let mut texts_done = std::collections::HashSet::new();
    for (client_id, text) in typed {
        if !texts_done.insert(text.clone()) {
            continue; // The same text typed twice is counted once below, for both.
        }
        let wanted = typed.iter().filter(|(_, t)| t == text).count();
        let failed = typed
            .iter()
            .filter(|(id, t)| {
                t == text
                    && entries.iter().any(|e| {
                        e.message.client_id.as_deref() == Some(id.as_str())
                            && e.message.status == DeliveryStatus::Failed
                    })
            })
            .count();
        let all = incoming.iter().filter(|(_, _, c)| c == text).count();
        let live = incoming
            .iter()
            .filter(|(_, c, t)| t == text && live_conversation(*c))
            .count();
        let ok = if deletions {
            live <= wanted - failed && all >= wanted - failed
        } else {
            all == wanted - failed
        };
        if !ok {
            problems.push(format!(
                "{text:?} ({client_id}): typed {wanted}, failed {failed}, on the server {all} ({live} in live conversations)"
            ));
        }
    }

    // Nothing stays pending.
    for e in entries {
        if e.message.status == DeliveryStatus::Pending {
            problems.push(format!("{:?} still pending", e.message.text));
        }
    }
    if !snapshot.outbox.is_empty() {
        problems.push(format!("outbox not empty: {:?}", snapshot.outbox.items()));
    }

    // The conversation the client is in: every visible message once, in server order.
    if let Some(conv) = snapshot.conversation_id.filter(|c| live_conversation(*c)) {
        for m in server.messages.values().filter(|m| m.conversation == conv) {
            let shown = entries
                .iter()
                .filter(|e| e.message.id == m.id.to_string())
                .count();
            let hidden = m.private || m.message_type == 2;
            if !hidden && !m.deleted && shown != 1 {
                problems.push(format!(
                    "server message {} {:?} shown {shown} times",
                    m.id, m.content
                ));
            }
            if hidden && shown != 0 {
                problems.push(format!("hidden message {} {:?} is shown", m.id, m.content));
            }
        }
    }
    let order: Vec<u64> = entries.iter().filter_map(|e| e.message.seq).collect();
    if order.windows(2).any(|w| w[0] >= w[1]) {
        problems.push(format!("not in server order: {order:?}"));
    }
    // Deleted messages go, wherever the deletion reached the client from. One deleted while
    // the client was away is found again only in the newest page (a reload finds all).
    // (A conversation deleted meanwhile answers 404: what it held stays as it was shown.)
    for m in server
        .messages
        .values()
        .filter(|m| m.deleted && live_conversation(m.conversation))
    {
        let newest_page: Vec<u64> = server
            .messages
            .values()
            .rev()
            .filter(|n| n.conversation == m.conversation && !n.private && n.message_type != 2)
            .take(20)
            .map(|n| n.id)
            .collect();
        let shown = entries.iter().any(|e| e.message.id == m.id.to_string());
        if shown && newest_page.contains(&m.id) {
            problems.push(format!("deleted message {} still shown", m.id));
        }
    }

    // Connected again, and bounded requests: no storm while faulty, next to nothing when quiet.
    if sim.client.state.connection != ConnectionState::Online {
        problems.push(format!(
            "not online at the end: {:?}",
            sim.client.state.connection
        ));
    }
    // A reload pages the whole conversation in (20 messages a page), twice at most (the
    // subscription asks again once the first pass is under way), and messages typed while
    // the server was away go out one after the other when it is back; nothing else may storm.
    let (peak, reloads) = sim.peak_request_rate(10_000);
    let pages = server.messages.len() / 20 + 2;
    if peak > 30 + reloads * 2 * pages + typed.len() {
        problems.push(format!("{peak} requests within 10 s ({reloads} reloads)"));
    }
    let idle = sim
        .stats
        .requests
        .iter()
        .filter(|t| **t > active_end + QUIET / 2)
        .count();
    if idle > 0 {
        problems.push(format!(
            "{idle} requests in the last {} s of quiet",
            QUIET / 2000
        ));
    }
    problems
}

#[test]
fn voxsig_core_against_a_model_of_real_chatwoot() {
    let Some((count, reports)) = sim::run_seeds("voxsig_sim", REGRESSIONS, run) else {
        return;
    };
    let sum = |f: fn(&Report) -> usize| reports.iter().map(f).sum::<usize>();
    println!(
        "voxsig simulation: {count} seeds, {} visitor messages, {} agent messages, {} faults, {} reloads, peak {} requests/10 s",
        sum(|r| r.typed),
        sum(|r| r.agent),
        sum(|r| r.faults as usize),
        sum(|r| r.reloads as usize),
        reports.iter().map(|r| r.peak_rate).max().unwrap_or(0)
    );
}
