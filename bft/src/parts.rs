//! Proposal streams: a proposed block cut into parts for the network, and put back
//! together from parts that may arrive out of order, through different peers.
//!
//! A stream is `Init`, the block's bytes in `Data` chunks, `Fin`, then the stream's
//! end. Streams are keyed by publisher and stream id; at most [`MAX_STREAMS`] are
//! kept at once and a stream may carry at most [`MAX_STREAM_BYTES`], so a peer
//! cannot grow this buffer without bound.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::core::Round;

use crate::context::{Address, Height, ProposalPart};

/// Bytes of block per `Data` part.
const CHUNK: usize = 64 * 1024;
/// Streams assembled at once.
pub const MAX_STREAMS: usize = 64;
/// Largest block a stream may carry.
pub const MAX_STREAM_BYTES: usize = 32 * 1024 * 1024;

/// The messages that publish `block` for `height` and `round`.
pub fn split(
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: Address,
    block: &[u8],
) -> Vec<StreamMessage<ProposalPart>> {
    let id = stream_id(height, round);
    let mut parts = vec![ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
    }];
    parts.extend(block.chunks(CHUNK).map(|c| ProposalPart::Data(c.to_vec())));
    parts.push(ProposalPart::Fin);
    let mut messages: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    messages.push(StreamMessage::new(
        id,
        messages.len() as u64,
        StreamContent::Fin,
    ));
    messages
}

fn stream_id(height: Height, round: Round) -> StreamId {
    let mut id = height.0.to_be_bytes().to_vec();
    id.extend_from_slice(&round.as_i64().to_be_bytes());
    StreamId::new(Bytes::from(id))
}

/// A complete proposal stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// Height it proposes for.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The round its value was locked in.
    pub pol_round: Round,
    /// Who says it proposes.
    pub proposer: Address,
    /// The block's bytes.
    pub block: Vec<u8>,
}

#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
}

/// Streams being put back together.
#[derive(Default)]
pub struct Streams {
    streams: HashMap<(PeerId, StreamId), Stream>,
    order: VecDeque<(PeerId, StreamId)>,
}

impl Streams {
    /// Adds `msg` from `publisher`; returns the proposal once its stream is complete.
    /// A malformed or oversized stream is dropped.
    pub fn insert(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<Assembled> {
        let key = (publisher, msg.stream_id.clone());
        if !self.streams.contains_key(&key) {
            if self.order.len() >= MAX_STREAMS
                && let Some(oldest) = self.order.pop_front()
            {
                self.streams.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match msg.content {
            StreamContent::Fin => stream.end = Some(msg.sequence),
            StreamContent::Data(part) => {
                if let ProposalPart::Data(d) = &part {
                    stream.bytes += d.len();
                }
                stream.parts.insert(msg.sequence, part);
            }
        }
        if stream.bytes > MAX_STREAM_BYTES {
            self.forget(&key);
            return None;
        }
        let end = stream.end?;
        if stream.parts.len() as u64 != end {
            return None;
        }
        let stream = self.forget(&key)?;
        assemble(stream, end)
    }

    fn forget(&mut self, key: &(PeerId, StreamId)) -> Option<Stream> {
        self.order.retain(|k| k != key);
        self.streams.remove(key)
    }
}

/// The proposal of a stream whose parts `0..end` are all here: `Init`, data, `Fin`.
fn assemble(stream: Stream, end: u64) -> Option<Assembled> {
    let mut parts = stream.parts.into_iter();
    let Some((
        0,
        ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        },
    )) = parts.next()
    else {
        return None;
    };
    let mut block = Vec::with_capacity(stream.bytes);
    for (seq, part) in parts {
        match part {
            ProposalPart::Data(d) if seq + 1 < end => block.extend_from_slice(&d),
            ProposalPart::Fin if seq + 1 == end => {}
            _ => return None,
        }
    }
    Some(Assembled {
        height,
        round,
        pol_round,
        proposer,
        block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_in_any_order_give_back_the_block_once() {
        let block: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut msgs = split(
            Height(4),
            Round::new(1),
            Round::Nil,
            Address([9; 20]),
            &block,
        );
        assert!(msgs.len() > 4, "several data parts");
        msgs.reverse();
        let peer = PeerId::from_multihash(Default::default()).expect("peer id");
        let mut streams = Streams::default();
        let last = msgs.pop().expect("parts");
        for m in msgs {
            assert_eq!(streams.insert(peer, m), None);
        }
        let done = streams.insert(peer, last).expect("complete");
        assert_eq!(done.block, block);
        assert_eq!((done.height, done.round), (Height(4), Round::new(1)));
        assert_eq!(done.proposer, Address([9; 20]));
    }

    #[test]
    fn a_stream_without_init_never_completes() {
        let mut msgs = split(Height(1), Round::new(0), Round::Nil, Address([1; 20]), b"x");
        msgs.remove(0);
        let peer = PeerId::from_multihash(Default::default()).expect("peer id");
        let mut streams = Streams::default();
        // Re-number the rest so that the count matches the end.
        let results: Vec<_> = msgs
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.sequence = i as u64;
                streams.insert(peer, m)
            })
            .collect();
        assert!(results.iter().all(Option::is_none));
    }
}
