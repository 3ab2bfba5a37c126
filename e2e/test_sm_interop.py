"""Interop of the audit log's cryptography with an independent implementation: Python
`gmssl` (PyPI). SM2 signatures are checked both ways, HMAC-SM3 subject hashes agree, and a
real signed tree head and inclusion proof from the running demo city are verified in Python
from nothing but the public key — RFC 9162's algorithm re-implemented here over gmssl's SM3."""

import json
import os
import pathlib
import secrets
import subprocess
import urllib.request

from gmssl import func, sm2, sm3

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "debug" / "shuniu"))
# GM/T 0003 curve order n: a private key is in [1, n-2].
N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)


def shuniu(*args):
    out = subprocess.run([BIN, *args], capture_output=True, text=True, env={**os.environ, "SHUNIU_LOG": "warn"})
    return out


def sm3_hex(data: bytes) -> str:
    return sm3.sm3_hash(func.bytes_to_list(data))


def gmssl_key(public_hex: str):
    """gmssl strips a leading '04' with str.lstrip, which also eats an x that starts with 0 or 4."""
    xy = public_hex[2:]
    return xy if not xy.startswith(("0", "4")) else None


def new_key():
    while True:
        d = secrets.randbelow(N - 2) + 1
        secret = f"{d:064x}"
        out = shuniu("audit", "sm2-sign", "--secret-key", secret, "--message-hex", "00")
        assert out.returncode == 0, out.stderr
        public = out.stdout.split()[0]
        if gmssl_key(public):
            return secret, public


def test_sm3_published_vector():
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_shuniu_signatures_verify_in_gmssl():
    secret, public = new_key()
    for msg in [b"shuniu-tree-head/v1\n42\n2026-11-22T08:00:00.000+08:00\n" + b"ab" * 32 + b"\n", "数纽".encode(), b""]:
        out = shuniu("audit", "sm2-sign", "--secret-key", secret, "--message-hex", msg.hex() or "")
        assert out.returncode == 0, out.stderr
        sig = out.stdout.split()[1]
        crypt = sm2.CryptSM2(private_key=None, public_key=gmssl_key(public))
        assert crypt.verify_with_sm3(sig, msg), msg
        # A changed message does not verify.
        assert not crypt.verify_with_sm3(sig, msg + b"x")


def test_gmssl_signatures_verify_in_shuniu():
    secret, public = new_key()
    crypt = sm2.CryptSM2(private_key=secret, public_key=gmssl_key(public))
    msg = "审计树头 / tree head".encode()
    sig = crypt.sign_with_sm3(msg)
    ok = shuniu("audit", "sm2-verify", "--public-key", public, "--message-hex", msg.hex(), "--signature", sig)
    assert ok.returncode == 0, ok.stderr
    bad = shuniu("audit", "sm2-verify", "--public-key", public, "--message-hex", (msg + b"!").hex(), "--signature", sig)
    assert bad.returncode != 0


def hmac_sm3(key: bytes, msg: bytes) -> str:
    block = 64
    if len(key) > block:
        key = bytes.fromhex(sm3_hex(key))
    key = key.ljust(block, b"\0")
    inner = bytes.fromhex(sm3_hex(bytes(b ^ 0x36 for b in key) + msg))
    return sm3_hex(bytes(b ^ 0x5C for b in key) + inner)


def test_subject_hashes_are_hmac_sm3():
    key = secrets.token_bytes(32)
    for text in ["370202199001010018", "11010119900307001X", ""]:
        out = shuniu("audit", "hmac-sm3", "--key-hex", key.hex(), "--text", text)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == hmac_sm3(key, text.encode())


def get(base_url, key, path):
    req = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def node(left: str, right: str) -> str:
    return sm3_hex(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right))


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def test_the_demo_citys_tree_head_and_proofs_verify_independently(base_url, accounts):
    key = accounts["operator_api_key"]
    pub = get(base_url, key, "/api/v1/audit/public-key")
    head = get(base_url, key, "/api/v1/audit/tree-head")
    assert head["tree_size"] > 100, "the demo city's actions are logged"
    message = f"shuniu-tree-head/v1\n{head['tree_size']}\n{head['timestamp']}\n{head['root_hash']}\n".encode()
    if gmssl_key(pub["public_key"]):
        crypt = sm2.CryptSM2(private_key=None, public_key=gmssl_key(pub["public_key"]))
        assert crypt.verify_with_sm3(head["signature"], message)
    size = head["tree_size"]
    for index in [0, size // 2, size - 1]:
        e = get(base_url, key, f"/api/v1/audit/entries/{index}")
        proof = get(base_url, key, f"/api/v1/audit/proofs/inclusion?index={index}&tree_size={size}")
        payload = json.dumps(e["entry"], ensure_ascii=False, separators=(",", ":")).encode()
        leaf = sm3_hex(b"\x00" + index.to_bytes(8, "big") + payload)
        assert leaf == proof["leaf_hash"], index
        assert verify_inclusion(index, size, leaf, proof["audit_path"], head["root_hash"]), index
    # The published heads file verifies with the CLI against the live data directory.
    data = os.environ.get("SHUNIU_E2E_DATA")
    if data:
        out = shuniu("audit", "verify", "--data-dir", data)
        assert out.returncode == 0, out.stderr
