"""Interop of electronic licences with independent implementations, on the running demo city:
the QR text is taken apart with `base45`, `zlib` and `cbor2` (PyPI) exactly as the EU digital
COVID certificate's verifiers do; the COSE_Sign1 signature is checked with `gmssl`'s SM2 over
the Sig_structure built here; the trust list and the status lists are verified with the hub's
published key and decoded by hand; the QR image the hub renders is read by `zxing-cpp`;
`shuniu licence verify` answers for the valid and the revoked licence; and the W3C Verifiable
Credential export's proof is checked with Python's canonical JSON and gmssl."""

import base64
import gzip
import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request
import zlib

import base45
import cbor2
import zxingcpp
from gmssl import sm2
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("SHUNIU_BIN", str(ROOT / "target" / "debug" / "shuniu"))
ALG_SM2_SM3 = -65701
CLAIM_LICENCE = -70001


def get(base_url, path):
    with urllib.request.urlopen(base_url + path) as r:
        return json.loads(r.read())


def opened(doc, key_hex):
    """A hub-signed document's payload, its signature checked with gmssl."""
    payload = base64.urlsafe_b64decode(doc["payload"] + "=" * (-len(doc["payload"]) % 4))
    assert gmssl(key_hex).verify_with_sm3(doc["signature"], payload)
    return json.loads(payload)


def gmssl(public_hex):
    # gmssl wants the key without the 04 prefix (and strips it with lstrip, which would also eat
    # a leading 0 or 4 of x: the key is passed without the prefix already removed that way).
    xy = public_hex[2:]
    crypt = sm2.CryptSM2(private_key=None, public_key=xy)
    crypt.public_key = xy
    return crypt


def take_apart(qr):
    assert qr.startswith("SNL1:")
    cose = zlib.decompress(base45.b45decode(qr[5:]))
    tag = cbor2.loads(cose)
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == 18, "a tagged COSE_Sign1"
    protected_bstr, unprotected, payload, signature = tag.value
    protected = cbor2.loads(protected_bstr)
    return protected_bstr, protected, payload, signature


def test_a_licence_verifies_outside_the_hub(base_url, accounts):
    lic = accounts["licences"]
    example = lic["example"]
    trust = get(base_url, "/api/v1/licences/trust-list")
    assert trust["trust_key"] == lic["trust_key"]
    seals = {s["kid"]: s for s in opened(trust, lic["trust_key"])["seals"]}

    protected_bstr, protected, payload, signature = take_apart(example["qr_text"])
    assert protected[1] == ALG_SM2_SM3
    seal = seals[protected[4].hex()]
    assert len(signature) == 64, "r || s"
    # RFC 9052 §4.4: Sig_structure = ["Signature1", protected, external_aad, payload].
    to_be_signed = cbor2.dumps(["Signature1", protected_bstr, b"", payload])
    assert seal["signer_id"] == "1234567812345678", "gmssl signs with the default signer ID"
    assert gmssl(seal["public_key"]).verify_with_sm3(signature.hex(), to_be_signed)
    # One flipped bit of the payload: the signature no longer holds.
    forged = bytearray(payload)
    forged[-1] ^= 1
    assert not gmssl(seal["public_key"]).verify_with_sm3(
        signature.hex(), cbor2.dumps(["Signature1", protected_bstr, b"", bytes(forged)])
    )

    claims = cbor2.loads(payload)
    licence = claims[CLAIM_LICENCE]
    assert licence["id"] == example["id"]
    assert licence["hn"] == example["holder_name"]
    assert claims[1] == licence["ac"], "iss is the issuing authority's code"

    # The status lists: the revoked licence's bit is set, the example's is not.
    revocation = opened(get(base_url, "/api/v1/licences/status/revocation"), lic["trust_key"])
    assert revocation["credentialSubject"]["statusPurpose"] == "revocation"
    encoded = revocation["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(bits) * 8 >= 131_072

    def bit(i):
        return (bits[i // 8] >> (7 - i % 8)) & 1

    _, _, revoked_payload, _ = take_apart(lic["revoked"]["qr_text"])
    assert bit(cbor2.loads(revoked_payload)[CLAIM_LICENCE]["si"]) == 1
    assert bit(licence["si"]) == 0


def shuniu(*args):
    return subprocess.run(
        [BIN, *args], capture_output=True, text=True, env={**os.environ, "SHUNIU_LOG": "warn"}
    )


def test_the_command_line_verifier_and_the_qr_image(accounts, tmp_path):
    data = os.environ.get("SHUNIU_E2E_DATA")
    assert data, "SHUNIU_E2E_DATA names the demo city's data directory"
    lic = accounts["licences"]
    ok = shuniu("licence", "verify", "--data-dir", data, lic["example"]["qr_text"])
    assert ok.returncode == 0, ok.stderr
    assert lic["example"]["holder_name"] in ok.stdout
    revoked = shuniu("licence", "verify", "--data-dir", data, lic["revoked"]["qr_text"])
    assert revoked.returncode != 0
    assert "LICENCE_REVOKED" in revoked.stderr
    garbage = shuniu("licence", "verify", "--data-dir", data, "SNL1:NOT-A-LICENCE")
    assert garbage.returncode != 0 and "LICENCE_MALFORMED" in garbage.stderr

    png = tmp_path / "licence.png"
    out = shuniu("licence", "qr", "--data-dir", data, lic["example"]["id"], "--out", str(png))
    assert out.returncode == 0, out.stderr
    found = zxingcpp.read_barcodes(Image.open(png))
    assert [b.text for b in found] == [lic["example"]["qr_text"]]
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    from_image = shuniu("licence", "verify", "--data-dir", data, str(png))
    assert from_image.returncode == 0, from_image.stderr


def test_the_verifiable_credential_verifies_outside_the_hub(base_url, accounts):
    """The W3C VC 2.0 export: its proof checked with Python's own JSON canonical form (JCS for
    these ASCII member names), gmssl's SM3 and SM2, and the seal the trust list names; its status
    entries point at the published lists."""
    from gmssl import sm3, func

    lic = accounts["licences"]
    request = urllib.request.Request(
        f"{base_url}/api/v1/licences/{lic['example']['id']}/credential",
        headers={"authorization": f"Bearer {accounts['operator_api_key']}"},
    )
    with urllib.request.urlopen(request) as r:
        vc = json.loads(r.read())
    assert vc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "VerifiableCredential" in vc["type"]
    assert vc["credentialSubject"]["name"] == lic["example"]["holder_name"]
    purposes = [s["statusPurpose"] for s in vc["credentialStatus"]]
    assert purposes == ["revocation", "suspension"]
    for entry in vc["credentialStatus"]:
        assert entry["type"] == "BitstringStatusListEntry"
        assert entry["statusListCredential"].endswith(f"/api/v1/licences/status/{entry['statusPurpose']}")

    trust_doc = get(base_url, "/api/v1/licences/trust-list")
    trust = opened(trust_doc, lic["trust_key"])
    proof = dict(vc["proof"])
    kid = proof["verificationMethod"].rsplit("#", 1)[1]
    seal = next(s for s in trust["seals"] if s["kid"] == kid)
    assert proof["cryptosuite"] == "shuniu-sm2-jcs-2026"
    signature = base64.urlsafe_b64decode(proof.pop("proofValue")[1:] + "==")
    proof["@context"] = vc["@context"]
    unsecured = {k: v for k, v in vc.items() if k != "proof"}

    def jcs(o):
        return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def digest(b):
        return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(b)))

    data = digest(jcs(proof)) + digest(jcs(unsecured))
    assert gmssl(seal["public_key"]).verify_with_sm3(signature.hex(), data)
    unsecured["credentialSubject"] = {**unsecured["credentialSubject"], "name": "别人"}
    forged = digest(jcs(proof)) + digest(jcs(unsecured))
    assert not gmssl(seal["public_key"]).verify_with_sm3(signature.hex(), forged)


def test_the_licence_document_opens_in_an_independent_reader(base_url, accounts, tmp_path):
    """The licence document (PDF) read by pypdf (PyPI): the face's text comes out, the attached
    credential is the licence's, and its SM2 proof verifies with gmssl."""
    from gmssl import sm3, func
    from pypdf import PdfReader

    lic = accounts["licences"]
    request = urllib.request.Request(
        f"{base_url}/api/v1/licences/{lic['example']['id']}/document",
        headers={"authorization": f"Bearer {accounts['operator_api_key']}"},
    )
    with urllib.request.urlopen(request) as r:
        assert r.headers["content-type"] == "application/pdf"
        pdf = r.read()
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)
    reader = PdfReader(path)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert lic["example"]["holder_name"] in text
    assert lic["example"]["id"] in text
    assert "电子证照专用章" in text
    vc = json.loads(reader.attachments["licence-credential.json"][0])
    assert vc["credentialSubject"]["licence"]["identifier"] == lic["example"]["id"]
    trust = opened(get(base_url, "/api/v1/licences/trust-list"), lic["trust_key"])
    proof = dict(vc["proof"])
    seal = next(s for s in trust["seals"] if s["kid"] == proof["verificationMethod"].rsplit("#", 1)[1])
    signature = base64.urlsafe_b64decode(proof.pop("proofValue")[1:] + "==")
    proof["@context"] = vc["@context"]
    unsecured = {k: v for k, v in vc.items() if k != "proof"}

    def digest(o):
        b = json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(b)))

    assert gmssl(seal["public_key"]).verify_with_sm3(signature.hex(), digest(proof) + digest(unsecured))


def der_children(data):
    """The raw TLVs inside a DER SEQUENCE (definite lengths)."""

    def tlv(buf, at):
        tag, length, at2 = buf[at], buf[at + 1], at + 2
        if length & 0x80:
            n = length & 0x7F
            length, at2 = int.from_bytes(buf[at2 : at2 + n], "big"), at2 + n
        return tag, buf[at:at2 + length], buf[at2:at2 + length], at2 + length

    tag, _, body, _ = tlv(data, 0)
    assert tag == 0x30
    out, at = [], 0
    while at < len(body):
        t, raw, content, at = tlv(body, at)
        out.append((t, raw, content))
    return out


def test_the_seal_structure_is_gbt_38540_der_signed_by_the_hub(base_url, accounts, tmp_path):
    """GB/T 38540's SES_Seal as the hub publishes it: parsed by OpenSSL's asn1parse (Debian), its
    seal-maker signature over TBS_Seal verified with gmssl and the hub's trust key."""
    lic = accounts["licences"]
    request = urllib.request.Request(
        f"{base_url}/api/v1/licences/seals",
        headers={"authorization": f"Bearer {accounts['operator_api_key']}"},
    )
    with urllib.request.urlopen(request) as r:
        seal = json.loads(r.read())[0]
    with urllib.request.urlopen(f"{base_url}/api/v1/licences/seals/{seal['code']}/ses") as r:
        der = r.read()
    path = tmp_path / "seal.der"
    path.write_bytes(der)
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-inform", "DER", "-in", str(path), "-i"],
        capture_output=True, text=True,
    )
    assert parsed.returncode == 0, parsed.stderr
    assert ":ES" in parsed.stdout and "SM2-with-SM3" in parsed.stdout
    assert seal["code"] in parsed.stdout
    parts = der_children(der)
    assert [p[0] for p in parts] == [0x30, 0x04, 0x06, 0x03]
    tbs_body = b"".join(p[1] for p in parts[:3])
    n = len(tbs_body)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    tbs = b"\x30" + length + tbs_body
    signature = parts[3][2][1:]  # a BIT STRING: the first byte counts unused bits
    r, s = [int.from_bytes(c[2], "big") for c in der_children(signature)]
    sig_hex = f"{r:064x}{s:064x}"
    assert gmssl(lic["trust_key"]).verify_with_sm3(sig_hex, tbs)
    assert not gmssl(lic["trust_key"]).verify_with_sm3(sig_hex, tbs.replace(seal["code"].encode(), b"0" * len(seal["code"])))


def test_a_granted_system_finds_a_holders_licences_in_the_licence_library(base_url, accounts):
    """The licence library (电子证照库) is an ordinary resource: the counter system granted it
    looks the example licence's holder up by their identifier and finds the licence, valid."""
    lic = accounts["licences"]
    library = lic["library"]
    assert library["rows"] > 0 and lic["example"]["holder"]
    app = next(a for a in accounts["applications"] if a["id"] == library["granted_to"])
    req = urllib.request.Request(
        base_url + library["example_lookup"],
        headers={"Authorization": f"Bearer {app['api_key']}"},
    )
    with urllib.request.urlopen(req) as r:
        answer = json.loads(r.read())
    found = {rec["licence_id"]: rec for rec in answer["records"]}
    assert lic["example"]["id"] in found, answer
    assert found[lic["example"]["id"]]["state"] == "有效"
    # Another system, without a grant on the library, is refused.
    other = next(
        a for a in accounts["applications"]
        if library["code"] not in a["resource_codes"] and a["role"] != "hub_operator"
    )
    req = urllib.request.Request(
        base_url + library["example_lookup"],
        headers={"Authorization": f"Bearer {other['api_key']}"},
    )
    try:
        urllib.request.urlopen(req)
        raise AssertionError("a system without a grant read the licence library")
    except urllib.error.HTTPError as e:
        assert e.code == 403
