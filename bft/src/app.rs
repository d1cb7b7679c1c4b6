//! The application side of Malachite: answers the engine's questions with the chain's
//! propose / verify / commit phases.
//!
//! | engine asks | molt does |
//! |---|---|
//! | `ConsensusReady` | start at head + 1 with that height's validators (the consensus module's choice), once the modules in force there are present |
//! | `GetValue` | [`Chain::propose_next`] (or the block it already proposed in that round), kept on disk, then streamed as parts |
//! | `ReceivedProposalPart` | reassemble; from the round's proposer only; [`Chain::verify`] → valid or invalid (a nil prevote) |
//! | `Decided` | [`Chain::commit`] with the commit certificate |
//! | `Finalized` | start the next height, as for `ConsensusReady` |
//! | `GetDecidedValues` | blocks and certificates from the database |
//! | `ProcessSyncedValue` | decode and verify a block from a peer, at head + 1 |
//!
//! Chain calls execute blocks (wasmtime, synchronous): they run on tokio's blocking
//! pool so that the engine's actors never wait on them.

use std::collections::HashMap;
use std::sync::Arc;

use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context as _, ExtendedCommitCertificate, LinearTimeouts, Round, Validity,
    VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use molt_chain::{Chain, ChainError, Finality};
use molt_storage::SealedBlock;

use crate::codec::BorshCodec;
use crate::context::{Address, BlockId, Height, MoltContext, PublicKey, Validator, ValidatorSet};
use crate::error::BftError;
use crate::metrics::BftMetrics;
use crate::parts::{Assembled, Streams, split};
use crate::store::ProposalStore;
use crate::wire;
use malachitebft_app_channel::app::types::codec::Codec;
use molt_abi::consensus::ValidatorEntry;

/// Most decided blocks served in one sync response.
const MAX_SYNC_BATCH: u64 = 64;
/// How many heights ahead of the one being decided a proposal is kept for later.
const MAX_AHEAD: u64 = 2;
/// Most proposals kept for later heights.
const MAX_LATER: usize = 32;

/// What the loop knows between messages.
pub(crate) struct App {
    pub chain: Arc<Chain>,
    pub address: Address,
    /// The genesis validators, which the consensus module turns into each height's
    /// set.
    pub genesis: Vec<ValidatorEntry>,
    /// The validators of the height being decided.
    pub validators: ValidatorSet,
    pub timeouts: LinearTimeouts,
    pub target_time: Option<std::time::Duration>,
    pub store: ProposalStore,
    pub streams: Streams,
    /// The height being decided.
    pub height: Height,
    /// Complete, checked proposals of the current and later heights.
    pub proposals: HashMap<(Height, Round), Vec<ProposedValue<MoltContext>>>,
    /// Complete proposals of later heights, not checked yet (their parent is not
    /// committed).
    pub later: Vec<Assembled>,
    /// Test only: propose blocks with a wrong state root.
    pub bad_proposals: bool,
    /// The network's counters.
    pub metrics: Arc<BftMetrics>,
}

impl App {
    /// The parameters of `height`, once this node can decide it: the validators the
    /// consensus module in force at `height` names, and the execution module in force
    /// there is present. Until then the node waits here and does not vote (the others
    /// go on while they hold more than two thirds of the power), saying what it lacks;
    /// it retries every second, so a package staged meanwhile lets it catch up.
    async fn params(&mut self, height: Height) -> HeightParams<MoltContext> {
        let mut last_said: Option<std::time::Instant> = None;
        loop {
            let genesis = self.genesis.clone();
            let ready = on_chain(&self.chain, move |chain| -> Result<ValidatorSet, String> {
                chain.executor_at(height.0).map_err(|e| e.to_string())?;
                let entries = chain
                    .validators_at(height.0, &genesis)
                    .map_err(|e| e.to_string())?;
                validator_set(&entries)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            match ready {
                Ok(set) => {
                    self.validators = set.clone();
                    return HeightParams::new(set, self.timeouts, self.target_time);
                }
                Err(e) => {
                    if last_said.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(30)) {
                        tracing::error!(
                            target: "molt::bft",
                            %height,
                            "cannot take part in height {height} (not voting until this is fixed): {e}"
                        );
                        last_said = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn next_height(&self) -> Height {
        Height(self.chain.head_number() + 1)
    }

    /// Answers the engine until it stops. No failure here stops the node: what cannot
    /// be done is logged, and the engine's timeouts move consensus on.
    pub async fn run(mut self, channels: &mut Channels<MoltContext>) {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, channels).await;
        }
    }

    async fn handle(&mut self, msg: AppMsg<MoltContext>, channels: &mut Channels<MoltContext>) {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                self.height = self.next_height();
                self.metrics.at_height(self.height.0);
                tracing::info!(target: "molt::bft", height = %self.height, "consensus ready");
                let params = self.params(self.height).await;
                let _ = reply.send((self.height, params));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                tracing::debug!(target: "molt::bft", %height, %round, %proposer, ?role, "round");
                self.height = height;
                self.metrics.at_height(height.0);
                let (now, later) = std::mem::take(&mut self.later)
                    .into_iter()
                    .partition(|a| a.height == height);
                self.later = later;
                for assembled in now {
                    self.check(assembled).await;
                }
                let values = self
                    .proposals
                    .get(&(height, round))
                    .cloned()
                    .unwrap_or_default();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout: _,
                reply,
            } => {
                // Without a value the engine's propose timeout passes and the others
                // prevote nil: a failure here costs a round, not the node.
                let block = match self.own_proposal(height, round).await {
                    Ok(block) => block,
                    Err(e) => {
                        tracing::error!(target: "molt::bft", %height, %round, "cannot propose: {e}");
                        return;
                    }
                };
                let value = BlockId::from(block.hash);
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                self.publish(height, round, Round::Nil, self.address, &block, channels)
                    .await;
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let assembled = self.streams.insert(published_by.unwrap_or(from), part);
                if let Some(a) = &assembled {
                    self.metrics.peer_at(a.height.0);
                }
                let value = match assembled {
                    // A proposal a little ahead (this node is still committing) waits
                    // for its height; one far ahead is dropped, so that a peer cannot
                    // fill memory with them.
                    Some(assembled)
                        if assembled.height > self.height
                            && assembled.height.0 <= self.height.0 + MAX_AHEAD =>
                    {
                        if self.later.len() >= MAX_LATER {
                            self.later.remove(0);
                        }
                        self.later.push(assembled);
                        None
                    }
                    Some(assembled) if assembled.height == self.height => {
                        self.check(assembled).await
                    }
                    _ => None,
                };
                let _ = reply.send(value);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                if let Some(bytes) = self.store.block(height.0, &value_id.hash())
                    && let Ok(block) = wire::decode(&bytes)
                {
                    self.publish(height, round, valid_round, address, &block, channels)
                        .await;
                }
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                if let Err(e) = self.commit(&certificate).await {
                    tracing::error!(
                        target: "molt::bft",
                        height = %certificate.height, block = %certificate.value_id,
                        "the decided block could not be committed: {e}"
                    );
                }
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate, reply, ..
            } => {
                let next = self.next_height();
                self.proposals.retain(|(h, _), _| *h >= next);
                self.store.prune(next.0 - 1);
                let _ = if next > certificate.height {
                    let params = self.params(next).await;
                    reply.send(Next::Start(next, params))
                } else {
                    let params = self.params(certificate.height).await;
                    reply.send(Next::Restart(certificate.height, params))
                };
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let head = self.chain.head_number();
                let first = range.start().0.max(1);
                let last = range.end().0.min(head).min(first + MAX_SYNC_BATCH - 1);
                let values = (first..=last)
                    .map_while(|h| self.decided(h).ok().flatten())
                    .collect();
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced(height, round, proposer, &value_bytes).await;
                let _ = reply.send(outcome);
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
        }
    }

    /// The block this node proposes at `height` and `round`: the one it proposed
    /// before a restart if there was one, else a new one, kept on disk before the
    /// engine hears of it.
    async fn own_proposal(
        &mut self,
        height: Height,
        round: Round,
    ) -> Result<SealedBlock, BftError> {
        let r = round.as_u32().unwrap_or(0);
        if let Some(hash) = self.store.own(height.0, r)
            && let Some(bytes) = self.store.block(height.0, &hash)
            && let Ok(block) = wire::decode(&bytes)
            && !self.bad_proposals
        {
            verify(&self.chain, &block).await??;
            return Ok(block);
        }
        let mut block = on_chain(&self.chain, |chain| {
            chain.propose_next(molt_chain::clock::now())
        })
        .await??;
        if self.bad_proposals {
            block.header.state_root = alloy_primitives::B256::repeat_byte(0xbd);
            block.hash = block.header.hash_slow();
            tracing::warn!(target: "molt::bft", %height, %round, "proposing a block with a wrong state root (--test.bad-proposals)");
        }
        self.store
            .put_block(height.0, &block.hash, &wire::encode(&block))?;
        self.store.put_own(height.0, r, &block.hash)?;
        BftMetrics::inc(&self.metrics.proposed);
        tracing::info!(
            target: "molt::bft",
            %height, %round, block = %block.hash, transactions = block.transactions.len(),
            "proposing"
        );
        Ok(block)
    }

    async fn publish(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
        block: &SealedBlock,
        channels: &Channels<MoltContext>,
    ) {
        for part in split(height, round, pol_round, proposer, &wire::encode(block)) {
            if channels
                .network
                .send(NetworkMsg::PublishProposalPart(part))
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Checks a complete proposal of the current height: it comes from the round's
    /// proposer, decodes, and re-executes to the same block. The verdict is returned
    /// to the engine (an invalid block gets a nil prevote) and remembered for the
    /// round.
    async fn check(&mut self, assembled: Assembled) -> Option<ProposedValue<MoltContext>> {
        let expected = MoltContext
            .select_proposer(&self.validators, assembled.height, assembled.round)
            .address;
        if assembled.proposer != expected {
            tracing::warn!(
                target: "molt::bft",
                height = %assembled.height, round = %assembled.round,
                claimed = %assembled.proposer, %expected,
                "dropped a proposal from a validator that is not the round's proposer"
            );
            BftMetrics::inc(&self.metrics.proposals_dropped);
            return None;
        }
        let block = match wire::decode(&assembled.block) {
            Ok(block) => block,
            Err(e) => {
                tracing::warn!(target: "molt::bft", height = %assembled.height, "dropped an undecodable proposal: {e}");
                BftMetrics::inc(&self.metrics.proposals_dropped);
                return None;
            }
        };
        let verdict = verify(&self.chain, &block).await;
        let validity = match verdict {
            Ok(Ok(())) => Validity::Valid,
            Ok(Err(ChainError::Invalid { reason, .. })) => {
                tracing::warn!(
                    target: "molt::bft",
                    height = %assembled.height, round = %assembled.round, block = %block.hash,
                    proposer = %assembled.proposer,
                    "voting nil on an invalid proposal: {reason}"
                );
                BftMetrics::inc(&self.metrics.proposals_invalid);
                Validity::Invalid
            }
            // Not the block's fault (a module this node lacks, a storage error): no
            // verdict, so this node does not vote for it.
            Ok(Err(e)) => {
                tracing::error!(target: "molt::bft", height = %assembled.height, "cannot verify a proposal: {e}");
                return None;
            }
            Err(e) => {
                tracing::error!(target: "molt::bft", "verifying a proposal: {e}");
                return None;
            }
        };
        if validity.is_valid()
            && let Err(e) = self
                .store
                .put_block(assembled.height.0, &block.hash, &assembled.block)
        {
            tracing::error!(target: "molt::bft", "keeping a proposal: {e}");
        }
        let value = ProposedValue {
            height: assembled.height,
            round: assembled.round,
            valid_round: assembled.pol_round,
            proposer: assembled.proposer,
            value: BlockId::from(block.hash),
            validity,
        };
        self.proposals
            .entry((assembled.height, assembled.round))
            .or_default()
            .push(value.clone());
        Some(value)
    }

    /// Commits the decided block with its certificate. A block verified before a
    /// restart is re-executed from the copy on disk; a height already committed (the
    /// engine replaying its WAL) is left as it is.
    async fn commit(
        &mut self,
        certificate: &CommitCertificate<MoltContext>,
    ) -> Result<(), BftError> {
        let height = certificate.height.0;
        if self.chain.head_number() >= height {
            return Ok(());
        }
        let hash = certificate.value_id.hash();
        let finality = Finality::Certificate(
            BorshCodec
                .encode(certificate)
                .map_err(|e| BftError::Engine(e.to_string()))?
                .to_vec()
                .into(),
        );
        let stored = self.store.block(height, &hash);
        let block = on_chain(
            &self.chain,
            move |chain| -> Result<SealedBlock, ChainError> {
                match chain.commit(&hash, finality.clone()) {
                    Err(ChainError::NotExecuted(_)) => {
                        let bytes = stored.ok_or(ChainError::NotExecuted(hash))?;
                        let block =
                            wire::decode(&bytes).map_err(|_| ChainError::NotExecuted(hash))?;
                        chain.verify(&block)?;
                        chain.commit(&hash, finality)
                    }
                    other => other,
                }
            },
        )
        .await??;
        BftMetrics::inc(&self.metrics.committed);
        tracing::info!(
            target: "molt::bft",
            height, round = %certificate.round, block = %block.hash,
            transactions = block.transactions.len(),
            signatures = certificate.commit_signatures.len(),
            "committed"
        );
        Ok(())
    }

    /// Decided block `height` as sync serves it.
    fn decided(&self, height: u64) -> Result<Option<RawDecidedValue<MoltContext>>, BftError> {
        let db = self.chain.db();
        let (Some(header), Some(transactions), Some(seal)) = (
            db.header(height).map_err(ChainError::from)?,
            db.transactions(height).map_err(ChainError::from)?,
            db.seal(height).map_err(ChainError::from)?,
        ) else {
            return Ok(None);
        };
        let Finality::Certificate(bytes) = Finality::from_bytes(&seal) else {
            return Ok(None);
        };
        let Ok(certificate) = Codec::<CommitCertificate<MoltContext>>::decode(
            &BorshCodec,
            bytes::Bytes::from(bytes.to_vec()),
        ) else {
            return Ok(None);
        };
        let block = SealedBlock {
            hash: header.hash_slow(),
            header,
            transactions,
            senders: Vec::new(),
            receipts: Vec::new(),
        };
        Ok(Some(RawDecidedValue::new(
            wire::encode(&block).into(),
            ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                certificate,
                VoteExtensions::default(),
            ),
        )))
    }

    /// A block a peer says was decided at `height`: verified on the head before the
    /// engine checks its certificate and commits it.
    async fn synced(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> SyncedValueOutcome<MoltContext> {
        let Ok(block) = wire::decode(bytes) else {
            BftMetrics::inc(&self.metrics.synced_refused);
            return SyncedValueOutcome::PeerFault;
        };
        let value = |validity| {
            SyncedValueOutcome::Verdict(ProposedValue {
                height,
                round,
                valid_round: Round::Nil,
                proposer,
                value: BlockId::from(block.hash),
                validity,
            })
        };
        if height != self.next_height() {
            return SyncedValueOutcome::LocalTransientError;
        }
        match verify(&self.chain, &block).await {
            Ok(Ok(())) => {
                if let Err(e) = self.store.put_block(height.0, &block.hash, bytes) {
                    tracing::error!(target: "molt::bft", "keeping a synced block: {e}");
                }
                BftMetrics::inc(&self.metrics.synced);
                value(Validity::Valid)
            }
            Ok(Err(ChainError::Invalid { reason, .. })) => {
                tracing::error!(
                    target: "molt::bft",
                    %height, block = %block.hash,
                    "a synced block does not re-execute to itself here: {reason}"
                );
                BftMetrics::inc(&self.metrics.synced_refused);
                value(Validity::Invalid)
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "molt::bft", %height, "cannot verify a synced block yet: {e}");
                SyncedValueOutcome::LocalTransientError
            }
            Err(_) => SyncedValueOutcome::LocalTransientError,
        }
    }
}

/// Runs `f` on `chain`, on the blocking pool.
async fn on_chain<T: Send + 'static>(
    chain: &Arc<Chain>,
    f: impl FnOnce(&Chain) -> T + Send + 'static,
) -> Result<T, BftError> {
    let chain = chain.clone();
    tokio::task::spawn_blocking(move || f(&chain))
        .await
        .map_err(|e| BftError::Task(e.to_string()))
}

/// [`Chain::verify`] of `block`, on the blocking pool.
async fn verify(
    chain: &Arc<Chain>,
    block: &SealedBlock,
) -> Result<Result<(), ChainError>, BftError> {
    let block = block.clone();
    on_chain(chain, move |chain| chain.verify(&block)).await
}

/// The validator set of `entries`; an error says why there is none.
fn validator_set(entries: &[ValidatorEntry]) -> Result<ValidatorSet, String> {
    let validators = entries
        .iter()
        .map(|e| {
            let key = <[u8; 32]>::try_from(e.public_key.as_ref())
                .map_err(|_| format!("a validator key of {} bytes", e.public_key.len()))?;
            Ok(Validator::new(PublicKey(key), e.power))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let set = ValidatorSet::new(validators);
    if set.validators().is_empty() {
        return Err("the consensus module names no validator with voting power".into());
    }
    Ok(set)
}
