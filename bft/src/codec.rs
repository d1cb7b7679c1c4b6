//! How the engine's messages are encoded on the wire, in the WAL and in block sync:
//! borsh, the canonical binary encoding Malachite's types implement under its `borsh`
//! feature (molt's own types derive it).
//!
//! One codec for the three uses; the network and the WAL are the engine's, so the
//! encoding changes only with a coordinated binary upgrade.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round,
    SignedExtension, ValidatorProof,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_sync::ValueResponse;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::context::{Address, BlockId, Height, MoltContext, ProposalPart, Signature};

/// borsh for every message the engine sends, logs or syncs.
#[derive(Clone, Copy, Debug, Default)]
pub struct BorshCodec;

/// A message that did not decode.
pub type DecodeError = borsh::io::Error;

macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {$(
        impl Codec<$t> for BorshCodec {
            type Error = DecodeError;

            fn decode(&self, bytes: Bytes) -> Result<$t, DecodeError> {
                borsh::from_slice(&bytes)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, DecodeError> {
                borsh::to_vec(msg).map(Bytes::from)
            }
        }
    )*};
}

borsh_codec!(
    ProposalPart,
    SignedConsensusMsg<MoltContext>,
    LivenessMsg<MoltContext>,
    StreamMessage<ProposalPart>,
    ProposedValue<MoltContext>,
    PolkaCertificate<MoltContext>,
    CommitCertificate<MoltContext>,
    Status<MoltContext>,
    Request<MoltContext>,
);

/// A sync response's certificate: Malachite 0.8.2 gives `ExtendedCommitCertificate`
/// no borsh form, so molt encodes its fields in order.
#[derive(BorshSerialize, BorshDeserialize)]
struct WireCertificate {
    height: Height,
    round: Round,
    value_id: BlockId,
    signatures: Vec<(Address, Signature, Option<SignedExtension<MoltContext>>)>,
}

/// A sync response: the first height, then each block's bytes and certificate.
#[derive(BorshSerialize, BorshDeserialize)]
struct WireResponse {
    start_height: Height,
    values: Vec<(Vec<u8>, WireCertificate)>,
}

impl From<&Response<MoltContext>> for WireResponse {
    fn from(response: &Response<MoltContext>) -> Self {
        let Response::ValueResponse(r) = response;
        WireResponse {
            start_height: r.start_height,
            values: r
                .values
                .iter()
                .map(|v| {
                    let c = &v.certificate;
                    let certificate = WireCertificate {
                        height: c.height,
                        round: c.round,
                        value_id: c.value_id,
                        signatures: c
                            .commit_signatures
                            .iter()
                            .map(|s| (s.address, s.signature, s.extension.clone()))
                            .collect(),
                    };
                    (v.value_bytes.to_vec(), certificate)
                })
                .collect(),
        }
    }
}

impl From<WireResponse> for Response<MoltContext> {
    fn from(wire: WireResponse) -> Self {
        let values = wire
            .values
            .into_iter()
            .map(|(bytes, c)| {
                let certificate = ExtendedCommitCertificate {
                    height: c.height,
                    round: c.round,
                    value_id: c.value_id,
                    commit_signatures: c
                        .signatures
                        .into_iter()
                        .map(|(address, signature, extension)| ExtendedCommitSignature {
                            address,
                            signature,
                            extension,
                        })
                        .collect(),
                };
                RawDecidedValue::new(Bytes::from(bytes), certificate)
            })
            .collect();
        Response::ValueResponse(ValueResponse::new(wire.start_height, values))
    }
}

impl Codec<Response<MoltContext>> for BorshCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<Response<MoltContext>, DecodeError> {
        borsh::from_slice::<WireResponse>(&bytes).map(Into::into)
    }

    fn encode(&self, msg: &Response<MoltContext>) -> Result<Bytes, DecodeError> {
        borsh::to_vec(&WireResponse::from(msg)).map(Bytes::from)
    }
}

impl HasEncodedLen<Response<MoltContext>> for BorshCodec {
    fn encoded_len(&self, msg: &Response<MoltContext>) -> Result<usize, DecodeError> {
        borsh::object_length(&WireResponse::from(msg))
    }
}

/// Malachite's validator proof has no borsh form of its own: its three fields in
/// order.
impl Codec<ValidatorProof<MoltContext>> for BorshCodec {
    type Error = DecodeError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<MoltContext>, DecodeError> {
        let (public_key, peer_id, signature): (Vec<u8>, Vec<u8>, Signature) =
            borsh::from_slice(&bytes)?;
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }

    fn encode(&self, proof: &ValidatorProof<MoltContext>) -> Result<Bytes, DecodeError> {
        borsh::to_vec(&(&proof.public_key, &proof.peer_id, &proof.signature)).map(Bytes::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Proposal;
    use malachitebft_app_channel::app::types::core::SignedMessage;

    #[test]
    fn a_signed_proposal_round_trips_and_garbage_is_refused() {
        let msg = SignedConsensusMsg::<MoltContext>::Proposal(SignedMessage::new(
            Proposal {
                height: Height(9),
                round: Round::new(2),
                value: BlockId([5; 32]),
                pol_round: Round::Nil,
                proposer: Address([1; 20]),
            },
            Signature([3; 64]),
        ));
        let bytes = BorshCodec.encode(&msg).expect("encode");
        let back: SignedConsensusMsg<MoltContext> =
            BorshCodec.decode(bytes.clone()).expect("decode");
        assert_eq!(back, msg);
        let cut = bytes.slice(..bytes.len() - 1);
        assert!(Codec::<SignedConsensusMsg<MoltContext>>::decode(&BorshCodec, cut).is_err());
        let longer = Bytes::from([bytes.as_ref(), &[0]].concat());
        assert!(
            Codec::<SignedConsensusMsg<MoltContext>>::decode(&BorshCodec, longer).is_err(),
            "trailing bytes"
        );
    }
}
