"""web3.py filters against molt: a block filter (w3.eth.filter("latest")), a pending
transaction filter (w3.eth.filter("pending")) and a contract event filter
(contract.events.Stored.create_filter) polled with get_new_entries and read whole
with get_all_entries. Prints {"ok": true} when every check holds."""

import json
import sys

from web3 import Web3

# Emits Stored(first calldata word).
TOPIC = Web3.keccak(text="Stored(uint256)").hex().removeprefix("0x")
INIT = "0x602d80600b6000396000f3" + "6000356000527f" + TOPIC + "60206000a100"
ABI = [{
    "type": "event",
    "name": "Stored",
    "anonymous": False,
    "inputs": [{"name": "value", "type": "uint256", "indexed": False}],
}]


def main(url):
    w3 = Web3(Web3.HTTPProvider(url))
    sender = w3.eth.accounts[0]
    mined = lambda tx: w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    deployed = mined({"from": sender, "data": INIT, "gas": 200000})
    emitter = w3.eth.contract(address=deployed["contractAddress"], abi=ABI)
    store = lambda n: {"from": sender, "to": emitter.address, "data": "0x%064x" % n, "gas": 100000}

    blocks = w3.eth.filter("latest")
    pending = w3.eth.filter("pending")
    events = emitter.events.Stored.create_filter(from_block=deployed["blockNumber"])
    assert blocks.get_new_entries() == []
    assert events.get_new_entries() == []

    hash_ = w3.eth.send_transaction(store(21))
    receipt = w3.eth.wait_for_transaction_receipt(hash_)
    assert receipt["blockHash"] in blocks.get_new_entries()
    assert blocks.get_new_entries() == []
    assert pending.get_new_entries() == [hash_]
    assert [e["args"]["value"] for e in events.get_new_entries()] == [21]
    assert events.get_new_entries() == []

    mined(store(22))
    assert [e["args"]["value"] for e in events.get_all_entries()] == [21, 22]
    assert [e["args"]["value"] for e in events.get_new_entries()] == [22]

    assert w3.eth.uninstall_filter(events.filter_id)
    assert not w3.eth.uninstall_filter(events.filter_id)
    try:
        events.get_new_entries()
        refused = ""
    except Exception as e:  # web3.py 7 raises Web3RPCError
        refused = str(e)
    assert "filter not found" in refused, refused
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main(sys.argv[1])
