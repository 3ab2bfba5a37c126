//! The offline verifier: a QR text, the hub's published lists and the hub's public key are all
//! it needs. The checks run in the order a counter clerk would want the answer: is it a
//! licence at all, whose seal signed it, is the signature good, was the seal valid then, is
//! the status known and clear, is it still within its validity.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::envelope::{LicenceClaims, open};
use crate::lists::{
    Bitstring, Signed, StatusListCredential, StatusPurpose, TrustList, TrustedSeal,
};
use crate::seal::SealPublicKey;
use crate::{LicenceError, Rejection, Result};

/// What a verifier holds, all checked against the hub's key when loaded.
pub struct Verifier {
    seals: HashMap<String, (TrustedSeal, SealPublicKey)>,
    status: HashMap<StatusPurpose, (Bitstring, DateTime<Utc>)>,
}

/// A licence that verified.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub claims: LicenceClaims,
    pub seal_code: String,
    pub seal_name: String,
    pub department_name: String,
    pub issued_at: DateTime<Utc>,
    /// Until when the status lists used are valid (the verifier works offline until then).
    pub status_valid_until: Option<DateTime<Utc>>,
}

impl Verifier {
    /// Loads the signed trust list and status lists; `root` is the hub's trust key.
    pub fn new(root: &SealPublicKey, trust: &Signed, status: &[Signed]) -> Result<Verifier> {
        let list: TrustList = trust.open(root).map_err(LicenceError::Rejected)?;
        let mut seals = HashMap::new();
        for s in list.seals {
            let key = SealPublicKey::from_hex(&s.public_key, &s.signer_id)?;
            seals.insert(s.kid.to_ascii_lowercase(), (s, key));
        }
        let mut lists = HashMap::new();
        for doc in status {
            let cred: StatusListCredential = doc.open(root).map_err(LicenceError::Rejected)?;
            let bits =
                Bitstring::decode(&cred.subject.encoded_list).map_err(LicenceError::Rejected)?;
            lists.insert(cred.subject.purpose, (bits, cred.valid_until));
        }
        Ok(Verifier {
            seals,
            status: lists,
        })
    }

    /// Verifies a QR text as of `now`.
    pub fn verify(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> std::result::Result<Verified, Rejection> {
        let opened = open(text)?;
        let (seal, key) = self
            .seals
            .get(&hex::encode(opened.kid))
            .ok_or(Rejection::UnknownSeal)?;
        opened.verify_with(key)?;
        // Envelopes carry whole seconds.
        let from = chrono::SubsecRound::trunc_subsecs(seal.valid_from, 0);
        if opened.issued_at < from || opened.issued_at > seal.valid_until {
            return Err(Rejection::SealExpired);
        }
        let index =
            usize::try_from(opened.claims.status_index).map_err(|_| Rejection::Malformed)?;
        let mut until = None;
        for (purpose, rejection) in [
            (StatusPurpose::Revocation, Rejection::Revoked),
            (StatusPurpose::Suspension, Rejection::Suspended),
        ] {
            // Without a list for a purpose the verifier cannot say the licence is clear.
            let (bits, valid_until) = self.status.get(&purpose).ok_or(Rejection::StatusStale)?;
            if now > *valid_until {
                return Err(Rejection::StatusStale);
            }
            if bits.get(index) {
                return Err(rejection);
            }
            until = Some(until.map_or(*valid_until, |u: DateTime<Utc>| u.min(*valid_until)));
        }
        if opened
            .claims
            .valid_until
            .is_some_and(|end| now.date_naive() > end)
        {
            return Err(Rejection::Expired);
        }
        Ok(Verified {
            seal_code: seal.seal_code.clone(),
            seal_name: seal.seal_name.clone(),
            department_name: seal.department_name.clone(),
            issued_at: opened.issued_at,
            status_valid_until: until,
            claims: opened.claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{seal, tests::claims};
    use crate::seal::{DEFAULT_SIGNER_ID, SealKey};

    struct World {
        hub: SealKey,
        seal: SealKey,
        trusted: TrustedSeal,
        now: DateTime<Utc>,
    }

    fn world() -> World {
        let (hub, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let (seal, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let trusted = TrustedSeal {
            kid: hex::encode(seal.kid()),
            seal_code: "3702000000001".into(),
            seal_name: "青岛市市场监督管理局电子证照专用章".into(),
            department: "370200SJ".into(),
            department_name: "青岛市市场监督管理局".into(),
            public_key: seal.public_hex(),
            signer_id: DEFAULT_SIGNER_ID.into(),
            valid_from: now - chrono::Duration::days(365),
            valid_until: now + chrono::Duration::days(365),
        };
        World {
            hub,
            seal,
            trusted,
            now,
        }
    }

    /// The world's trust list (its one seal), signed with `key`.
    fn trust_list(w: &World, key: &SealKey) -> Signed {
        Signed::sign(
            &TrustList {
                issuer: "hub".into(),
                issued_at: w.now,
                seals: vec![w.trusted.clone()],
            },
            key,
        )
        .unwrap()
    }

    fn verifier(
        w: &World,
        revoked: &[usize],
        suspended: &[usize],
        ttl_from: DateTime<Utc>,
    ) -> Verifier {
        let trust = trust_list(w, &w.hub);
        let list = |purpose, on: &[usize]| {
            let mut b = Bitstring::with_capacity(0);
            for &i in on {
                b.set(i, true);
            }
            let cred = StatusListCredential::new(
                "http://hub",
                purpose,
                &b,
                ttl_from,
                chrono::Duration::hours(24),
            )
            .unwrap();
            Signed::sign(&cred, &w.hub).unwrap()
        };
        let root = SealPublicKey::from_hex(&w.hub.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        Verifier::new(
            &root,
            &trust,
            &[
                list(StatusPurpose::Revocation, revoked),
                list(StatusPurpose::Suspension, suspended),
            ],
        )
        .unwrap()
    }

    #[test]
    fn each_reason_a_licence_fails_is_named() {
        let w = world();
        let at = w.now - chrono::Duration::days(30);
        let text = seal(&claims(), &w.seal, at).unwrap();
        let ok = verifier(&w, &[], &[], w.now);
        let v = ok.verify(&text, w.now).unwrap();
        assert_eq!(v.claims.holder_name, "青岛海纳科技有限公司");
        assert_eq!(v.department_name, "青岛市市场监督管理局");
        // Revoked and suspended by their bits (the claims' status index is 7).
        assert_eq!(
            verifier(&w, &[7], &[], w.now)
                .verify(&text, w.now)
                .unwrap_err(),
            Rejection::Revoked
        );
        assert_eq!(
            verifier(&w, &[8], &[7], w.now)
                .verify(&text, w.now)
                .unwrap_err(),
            Rejection::Suspended
        );
        // Offline past the lists' time to live: the verifier cannot vouch for the status.
        let later = w.now + chrono::Duration::hours(25);
        assert_eq!(ok.verify(&text, later).unwrap_err(), Rejection::StatusStale);
        // Past its validity.
        let mut short = claims();
        short.valid_until = Some((w.now - chrono::Duration::days(1)).date_naive());
        let text_short = seal(&short, &w.seal, at).unwrap();
        assert_eq!(
            ok.verify(&text_short, w.now).unwrap_err(),
            Rejection::Expired
        );
        // Signed by a key the trust list does not hold.
        let (stranger, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let foreign = seal(&claims(), &stranger, at).unwrap();
        assert_eq!(
            ok.verify(&foreign, w.now).unwrap_err(),
            Rejection::UnknownSeal
        );
        // Signed when the seal was not yet (or no longer) valid.
        let early = seal(&claims(), &w.seal, w.now - chrono::Duration::days(400)).unwrap();
        assert_eq!(
            ok.verify(&early, w.now).unwrap_err(),
            Rejection::SealExpired
        );
        assert_eq!(
            ok.verify("SNL1:ABC", w.now).unwrap_err(),
            Rejection::Malformed
        );
    }

    #[test]
    fn lists_not_signed_by_the_hub_are_refused() {
        let w = world();
        let (other, _) = SealKey::generate(DEFAULT_SIGNER_ID).unwrap();
        let trust = trust_list(&w, &other);
        let root = SealPublicKey::from_hex(&w.hub.public_hex(), DEFAULT_SIGNER_ID).unwrap();
        let err = Verifier::new(&root, &trust, &[]).err().unwrap();
        assert_eq!(err.code(), "LICENCE_UNTRUSTED_LIST");
        // With a good trust list but no status lists, nothing is vouched for.
        let good = trust_list(&w, &w.hub);
        let v = Verifier::new(&root, &good, &[]).unwrap();
        let text = seal(&claims(), &w.seal, w.now).unwrap();
        assert_eq!(v.verify(&text, w.now).unwrap_err(), Rejection::StatusStale);
    }
}
