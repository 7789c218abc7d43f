//! Redraws a busy view at most once per animation frame.

use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;

/// Where a gate is between two animation frames.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Nothing drawn since the last frame: the next change is passed on at once.
    Idle,
    /// A change was passed on in this frame; the next frame returns the gate to idle.
    Drawn,
    /// Changes came after that one: the next frame passes them on together.
    Pending,
}

/// A trigger for a view to track instead of its sources; `sources` reads (and so tracks) what
/// the view draws from. The first change after an animation frame is passed on at once, so a
/// lone message appears with no delay; the changes after it, until the next frame, are passed
/// on together then.
/// A burst of a thousand frames from the network redraws once per frame (16 ms), not a
/// thousand times, and the browser lays out and paints no more often anyway.
pub fn frame_gated(sources: impl Fn() + 'static) -> Trigger {
    let trigger = Trigger::new();
    let phase = Rc::new(Cell::new(Phase::Idle));
    // The first run passes on too: the view may have drawn before a change in the same task.
    Effect::new(move |_| {
        sources();
        match phase.get() {
            Phase::Idle => {
                phase.set(Phase::Drawn);
                trigger.notify();
                after_next_frame(trigger, phase.clone());
            }
            Phase::Drawn => phase.set(Phase::Pending),
            Phase::Pending => {}
        }
    });
    trigger
}

fn after_next_frame(trigger: Trigger, phase: Rc<Cell<Phase>>) {
    request_animation_frame(move || {
        if phase.get() == Phase::Pending {
            phase.set(Phase::Drawn);
            trigger.notify();
            after_next_frame(trigger, phase);
        } else {
            phase.set(Phase::Idle);
        }
    });
}
