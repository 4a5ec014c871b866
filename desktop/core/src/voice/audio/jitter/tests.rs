//! The jitter buffer's contract: order, wrap-around, loss, lateness, adaptation.

use super::*;

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn payload(sequence: u16) -> Vec<u8> {
    sequence.to_be_bytes().to_vec()
}

/// RTP timestamp of a packet: it keeps counting where the 16-bit sequence number wraps.
fn media_time(sequence: u16) -> u32 {
    u32::from(sequence.wrapping_sub(60_000)) * 960
}

/// Pushes packets `sequences` at 20 ms spacing in arrival order, starting at `start_ms`.
fn feed(buffer: &mut JitterBuffer, sequences: &[u16], start_ms: u64) {
    for (index, &sequence) in sequences.iter().enumerate() {
        let timestamp = media_time(sequence);
        buffer.push(sequence, timestamp, &payload(sequence), ms(start_ms + 20 * index as u64));
    }
}

#[test]
fn reordered_packets_play_in_sequence_order() {
    let mut buffer = JitterBuffer::new();
    feed(&mut buffer, &[3, 1, 2, 4], 0);
    let played: Vec<Playout> = (0..4).map(|_| buffer.pop()).collect();
    let expected: Vec<Playout> = [1, 2, 3, 4].map(|s| Playout::Packet(payload(s))).to_vec();
    assert_eq!(played, expected, "packets must come out in sequence order whatever the arrival order");
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut buffer = JitterBuffer::new();
    feed(&mut buffer, &[65_535, 0, 65_534, 1], 0);
    let played: Vec<Playout> = (0..4).map(|_| buffer.pop()).collect();
    let expected: Vec<Playout> = [65_534, 65_535, 0, 1].map(|s| Playout::Packet(payload(s))).to_vec();
    assert_eq!(played, expected, "65535 is followed by 0, not preceded");
}

#[test]
fn a_lost_packet_is_recovered_from_the_next_packets_fec_and_late_ones_are_dropped() {
    let mut buffer = JitterBuffer::new();
    feed(&mut buffer, &[10, 12, 13], 0);
    assert_eq!(buffer.pop(), Playout::Packet(payload(10)));
    assert_eq!(buffer.pop(), Playout::Fec(payload(12)), "slot 11 is decoded from 12's FEC data");
    assert_eq!(buffer.pop(), Playout::Packet(payload(12)), "12 itself still plays in its own slot");
    buffer.push(11, 11 * 960, &payload(11), ms(100));
    assert_eq!(buffer.stats().late, 1, "11 arrived after its slot and must be dropped");
    assert_eq!(buffer.pop(), Playout::Packet(payload(13)));
    assert_eq!(buffer.stats().recovered, 1);
}

#[test]
fn an_empty_buffer_conceals_then_goes_silent_and_a_late_packet_still_plays() {
    let mut buffer = JitterBuffer::new();
    feed(&mut buffer, &[1], 0);
    assert_eq!(buffer.pop(), Playout::Packet(payload(1)));
    assert_eq!(buffer.pop(), Playout::Conceal, "a missing packet with nothing queued is concealed");
    buffer.push(2, 2 * 960, &payload(2), ms(45));
    assert_eq!(buffer.pop(), Playout::Packet(payload(2)), "the slot waited, so the late packet plays");
    for _ in 0..CONCEAL_BEFORE_SILENCE {
        assert_eq!(buffer.pop(), Playout::Conceal);
    }
    assert_eq!(buffer.pop(), Playout::Silence, "a peer that stopped sending is silence, not endless PLC");
}

#[test]
fn target_depth_grows_with_jitter_and_shrinks_when_the_network_calms() {
    let mut buffer = JitterBuffer::new();
    // Calm: packets exactly every 20 ms.
    feed(&mut buffer, &(0..50).collect::<Vec<u16>>(), 0);
    assert_eq!(buffer.target_depth(), 1, "no jitter needs no extra depth");
    let mut arrival = 1_000_u64;
    // Bursty: packets arrive in clumps of three every 60 ms (±40 ms of jitter).
    for sequence in 50_u16..150 {
        if sequence % 3 == 0 {
            arrival += 60;
        }
        buffer.push(sequence, u32::from(sequence) * 960, &payload(sequence), ms(arrival));
    }
    let bursty = buffer.target_depth();
    assert!(bursty >= 3, "±40 ms of jitter needs at least 3 frames of depth, got {bursty}");
    assert!(bursty <= MAX_DEPTH, "depth is bounded");
    for sequence in 150_u16..400 {
        arrival += 20;
        buffer.push(sequence, u32::from(sequence) * 960, &payload(sequence), ms(arrival));
    }
    assert_eq!(buffer.target_depth(), 1, "after seconds of calm the buffer shrinks back");
}

#[test]
fn excess_depth_is_trimmed() {
    let mut buffer = JitterBuffer::new();
    // A backlog of eight packets on an otherwise calm stream: more than the target of one.
    for sequence in 0_u16..8 {
        buffer.push(sequence, u32::from(sequence) * 960, &payload(sequence), ms(0));
    }
    // Then one packet per slot, so the backlog would persist without trimming.
    for sequence in 8_u16..(8 + EXCESS_PATIENCE as u16) {
        buffer.pop();
        buffer.push(sequence, u32::from(sequence) * 960, &payload(sequence), ms(u64::from(sequence) * 20));
    }
    assert!(buffer.stats().discarded >= 1, "a buffer deeper than needed must skip a frame to cut delay");
    assert!(buffer.depth() < 8, "the backlog shrank, depth {}", buffer.depth());
}

/// Plays `slots` slots from `first`: slot `i` starts at `start_ms + 20 i + playout_ms`, its
/// packet arrives `delay_ms(i)` after `start_ms + 20 i` (before or after the slot starts).
fn stream(
    buffer: &mut JitterBuffer,
    first: u16,
    slots: u16,
    start_ms: u64,
    playout_ms: u64,
    delay_ms: impl Fn(u16) -> u64,
) {
    for index in 0..slots {
        let sequence = first + index;
        let sent = start_ms + 20 * u64::from(index);
        let arrival = sent + delay_ms(index);
        let slot = sent + playout_ms;
        if arrival <= slot {
            buffer.push(sequence, media_time(sequence), &payload(sequence), ms(arrival));
            buffer.pop_at(ms(slot));
        } else {
            buffer.pop_at(ms(slot));
            buffer.push(sequence, media_time(sequence), &payload(sequence), ms(arrival));
        }
    }
}

#[test]
fn steady_arrivals_let_the_playout_move_close_to_them() {
    let mut buffer = JitterBuffer::new();
    // Punctual packets, each played 15 ms after it came.
    stream(&mut buffer, 0, 2 * SPARE_WINDOW as u16, 0, 15, |_| 0);
    let spare = buffer.spare();
    assert!(spare >= ms(10), "15 ms of waiting on a calm network is mostly spare, got {spare:?}");
    assert_eq!(buffer.target_depth(), 1, "below one frame of delay");
    // The playback moved 10 ms earlier: packets now wait 5 ms.
    buffer.playout_shifted();
    assert_eq!(buffer.spare(), Duration::ZERO, "nothing is known right after a shift");
    stream(&mut buffer, 2 * SPARE_WINDOW as u16, 2 * SPARE_WINDOW as u16, 2_000, 5, |_| 0);
    let spare = buffer.spare();
    assert!(spare > Duration::ZERO, "5 ms wait keeps only the minimum headroom, got {spare:?}");
    assert!(spare < ms(10), "and leaves too little to move another tick, got {spare:?}");
}

#[test]
fn jitter_keeps_the_playout_back() {
    let mut buffer = JitterBuffer::new();
    // Every other packet comes 8 ms late; slots start 15 ms after the punctual ones.
    stream(&mut buffer, 0, 4 * SPARE_WINDOW as u16, 0, 15, |index| if index % 2 == 0 { 0 } else { 8 });
    assert!(buffer.jitter() >= ms(3), "alternating delays are jitter, got {:?}", buffer.jitter());
    assert_eq!(buffer.spare(), Duration::ZERO, "7 ms of shortest wait is all headroom for this jitter");
    assert_eq!(buffer.stats().late, 0);
}

#[test]
fn a_just_late_packet_holds_the_playout_back_until_the_network_proves_calm() {
    let mut buffer = JitterBuffer::new();
    stream(&mut buffer, 0, 2 * SPARE_WINDOW as u16, 0, 15, |_| 0);
    assert!(buffer.spare() >= ms(10), "calm: spare to move earlier");
    // Packet 50 misses its slot by 3 ms: the slot is concealed and 50 plays one slot later.
    let sent = 2 * u64::from(SPARE_WINDOW) * 20;
    assert_eq!(buffer.pop_at(ms(sent + 15)), Playout::Conceal);
    buffer.push(50, media_time(50), &payload(50), ms(sent + 18));
    assert_eq!(buffer.pop_at(ms(sent + 35)), Playout::Packet(payload(50)), "the late packet still plays");
    assert_eq!(buffer.stats().late, 0, "it made it, so it is not counted as late");
    // From now on every packet waits 35 ms, but the miss asks for more headroom: two
    // windows on, the spare is well short of the 33 ms a calm network would leave.
    let resumed = sent + 20;
    let after_miss = 2 * SPARE_WINDOW as u16 + 1;
    stream(&mut buffer, 51, after_miss, resumed, 35, |_| 0);
    let held = buffer.spare();
    assert!(held > Duration::ZERO, "a whole frame more than needed is partly spare, got {held:?}");
    assert!(held < ms(25), "shortly after a miss the headroom is at least 10 ms larger, spare {held:?}");
    // Seconds of punctual packets: the penalty decays and the extra wait is spare again.
    let calm_start = resumed + 20 * u64::from(after_miss);
    stream(&mut buffer, 51 + after_miss, 10 * SPARE_WINDOW as u16, calm_start, 35, |_| 0);
    let spare = buffer.spare();
    assert!(
        spare >= ms(30),
        "after the network proved calm the headroom is back to the minimum, got {spare:?}"
    );
}
