"""web3.py against molt: state at past blocks (block_identifier) and eth_getProof,
each proof verified against the block's stateRoot with py-trie, an implementation
independent of molt's. Prints {"ok": true} when every check holds."""

import json
import sys

import rlp
from eth_utils import keccak
from trie import HexaryTrie
from web3 import Web3


def verify_account(block, address, proof):
    """The account's proof against the block's state root; its RLP leaf, b'' if absent."""
    nodes = [rlp.decode(bytes(n)) for n in proof["accountProof"]]
    return HexaryTrie.get_from_proof(block["stateRoot"], keccak(bytes.fromhex(address[2:])), nodes)


def main(url):
    w3 = Web3(Web3.HTTPProvider(url))
    sender = w3.eth.accounts[0]
    recipient = Web3.to_checksum_address("0x00000000000000000000000000000000000000e3")
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "to": recipient, "value": 42})
    )
    n = receipt["blockNumber"]
    assert w3.eth.get_balance(recipient, block_identifier=n - 1) == 0
    assert w3.eth.get_balance(recipient, block_identifier=n) == 42
    assert w3.eth.get_balance(recipient, block_identifier=receipt["blockHash"]) == 42
    nonce_before = w3.eth.get_transaction_count(sender, block_identifier=n - 1)
    assert w3.eth.get_transaction_count(sender, block_identifier=n) == nonce_before + 1

    # Later blocks do not change what block n says.
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "to": recipient, "value": 1})
    )
    assert w3.eth.get_balance(recipient, block_identifier=n) == 42
    assert w3.eth.get_balance(recipient) == 43

    for block_number, expected in [(n - 1, None), (n, 42)]:
        block = w3.eth.get_block(block_number)
        proof = w3.eth.get_proof(recipient, [], block_number)
        leaf = verify_account(block, recipient, proof)
        if expected is None:
            assert leaf == b"", leaf
        else:
            nonce, balance, storage_root, code_hash = rlp.decode(leaf)
            assert int.from_bytes(balance, "big") == expected == proof["balance"]
            assert storage_root == bytes(proof["storageHash"])
            assert code_hash == bytes(proof["codeHash"])
    print(json.dumps({"ok": True, "block": n}))


if __name__ == "__main__":
    main(sys.argv[1])
