//! Starting and stopping a node's consensus engine: Malachite over libp2p, with its WAL
//! in the data directory, on a thread of its own with its own tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use malachitebft_app_channel::app::config::{
    ConsensusConfig, DiscoveryConfig, NodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::network::NetworkIdentity;
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::types::Keypair;
use malachitebft_app_channel::app::types::core::LinearTimeouts;
use malachitebft_app_channel::{
    ConsensusContext, EngineBuilder, NetworkContext, NetworkRequest, RequestContext, SyncContext,
    WalContext,
};
use molt_abi::consensus::ValidatorEntry;
use molt_chain::Chain;
use tokio::sync::oneshot;

use crate::app::App;
use crate::codec::BorshCodec;
use crate::context::{Height, MoltContext, ValidatorSet};
use crate::error::BftError;
use crate::metrics::BftMetrics;
use crate::parts::Streams;
use crate::signing::{KeySigner, KeyVerifier, address};
use crate::store::ProposalStore;

/// How a node joins the network.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Its name in logs and metrics.
    pub moniker: String,
    /// The validator key (votes, and the libp2p identity).
    pub key: SigningKey,
    /// Whether it votes; a full node only follows.
    pub validator: bool,
    /// Where it listens for peers (`/ip4/127.0.0.1/tcp/PORT`).
    pub listen: Multiaddr,
    /// Peers it keeps connections to.
    pub peers: Vec<Multiaddr>,
    /// The genesis validators; the consensus module in force at each height decides
    /// that height's set from them.
    pub genesis: Vec<ValidatorEntry>,
    /// Round timeouts.
    pub timeouts: LinearTimeouts,
    /// Least time between two heights; `None` starts the next height at once.
    pub block_time: Option<Duration>,
    /// The engine's directory: WAL and proposals (`<datadir>/consensus`).
    pub dir: PathBuf,
    /// For tests of the others' defences only: propose blocks whose state root is
    /// wrong, as a faulty or malicious validator would.
    pub bad_proposals: bool,
    /// Where the network counts what it does.
    pub metrics: Arc<BftMetrics>,
}

/// Malachite's node configuration, as molt sets it.
#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// A running consensus engine. Dropping it stops the engine.
pub struct Network {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

impl Network {
    /// Starts the engine for `chain`; returns once it is listening for peers.
    pub fn start(chain: Arc<Chain>, config: NetworkConfig) -> Result<Network, BftError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("molt-consensus".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("molt-consensus")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(BftError::Engine(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(run(chain, config, ready_tx, stop_rx));
            })
            .map_err(|e| BftError::Engine(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Network {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BftError::Engine("the consensus thread ended".into())),
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn run(
    chain: Arc<Chain>,
    config: NetworkConfig,
    ready: std::sync::mpsc::Sender<Result<(), BftError>>,
    stop: oneshot::Receiver<()>,
) {
    let metrics = config.metrics.clone();
    let (mut channels, handle, app) = match build(chain, config).await {
        Ok(built) => built,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let peers = tokio::spawn(count_peers(channels.net_requests.clone(), metrics));
    tokio::select! {
        () = app.run(&mut channels) => {
            tracing::error!(target: "molt::bft", "the consensus engine stopped");
        }
        _ = stop => {}
    }
    peers.abort();
    handle.actor.stop(None);
    let _ = handle.handle.await;
}

/// Keeps [`BftMetrics::peers`] current: the peers the network layer is connected to,
/// asked once a second.
async fn count_peers(
    requests: tokio::sync::mpsc::Sender<NetworkRequest>,
    metrics: Arc<BftMetrics>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if let Ok(Some(dump)) = NetworkRequest::dump_state(&requests).await {
            let peers = u64::try_from(dump.peers.len()).unwrap_or(u64::MAX);
            metrics
                .peers
                .store(peers, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

async fn build(
    chain: Arc<Chain>,
    config: NetworkConfig,
) -> Result<
    (
        malachitebft_app_channel::Channels<MoltContext>,
        malachitebft_app_channel::EngineHandle,
        App,
    ),
    BftError,
> {
    let engine = |e: eyre::Report| BftError::Engine(format!("{e:#}"));
    std::fs::create_dir_all(&config.dir).map_err(|e| BftError::io(&config.dir, e))?;
    let me = address(&config.key);
    let keypair = Keypair::ed25519_from_bytes(config.key.to_bytes())
        .map_err(|e| BftError::Engine(e.to_string()))?;
    let identity = NetworkIdentity::new(
        config.moniker.clone(),
        keypair,
        config.validator.then(|| me.to_string()),
    );
    let engine_config = EngineConfig {
        moniker: config.moniker.clone(),
        consensus: ConsensusConfig {
            p2p: P2pConfig {
                listen_addr: config.listen.clone(),
                persistent_peers: config.peers.clone(),
                discovery: DiscoveryConfig::default(),
                ..P2pConfig::default()
            },
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            status_update_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            ..ValueSyncConfig::default()
        },
    };
    let consensus = if config.validator {
        ConsensusContext::new_validator(
            me,
            Box::new(KeyVerifier),
            Box::new(KeySigner::new(config.key.clone())),
        )
    } else {
        ConsensusContext::new_full_node(me, Box::new(KeyVerifier))
    };
    let (channels, handle) = EngineBuilder::new(MoltContext, engine_config)
        .with_default_wal(WalContext::new(config.dir.join("wal"), BorshCodec))
        .with_default_network(NetworkContext::new(identity, BorshCodec))
        .with_default_consensus(consensus)
        .with_default_sync(SyncContext::new(BorshCodec))
        .with_default_request(RequestContext::new(100))
        .build()
        .await
        .map_err(engine)?;
    let app = App {
        store: ProposalStore::open(&config.dir.join("proposals"))?,
        height: Height(chain.head_number() + 1),
        chain,
        address: me,
        genesis: config.genesis,
        validators: ValidatorSet::new([]),
        timeouts: config.timeouts,
        target_time: config.block_time,
        streams: Streams::default(),
        proposals: Default::default(),
        later: Vec::new(),
        bad_proposals: config.bad_proposals,
        metrics: config.metrics,
    };
    Ok((channels, handle, app))
}
