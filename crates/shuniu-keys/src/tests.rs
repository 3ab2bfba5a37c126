use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).expect("hex")
}

/// RFC 8998 appendix A.1 (the SM4-GCM vector, also in GB/T 36624's annex).
#[test]
fn sm4_gcm_matches_the_published_vector() {
    let key: [u8; 16] = unhex("0123456789ABCDEFFEDCBA9876543210")
        .try_into()
        .expect("16 bytes");
    let nonce: [u8; 12] = unhex("00001234567800000000ABCD")
        .try_into()
        .expect("12 bytes");
    let aad = unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
    let plain = unhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB CCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
         EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFF EEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    );
    let expected = unhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D 5FD46FD3756489069157B282BB200735
         D82710CA5C22F0CCFA7CBF93D496AC15 A56834CBCF98C397B4024A2691233B8D
         83DE3541E4C2B58177E065A9BF7B62EC",
    );
    let out = Key::new(key)
        .cipher()
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .expect("sealed");
    assert_eq!(out, expected);
}

#[test]
fn sealed_values_open_only_for_their_label_and_key() {
    let master = MasterKey::ephemeral().expect("key");
    let sealed = master
        .seal_text("connector:pop", "postgres://u:s3cret@db/pop")
        .expect("seal");
    assert!(is_sealed(&sealed));
    assert!(!sealed.contains("s3cret"));
    assert_eq!(
        master.open_text("connector:pop", &sealed).expect("open"),
        "postgres://u:s3cret@db/pop"
    );
    assert!(
        master.open_text("connector:other", &sealed).is_err(),
        "another label"
    );
    let other = MasterKey::ephemeral().expect("key");
    assert!(
        other.open_text("connector:pop", &sealed).is_err(),
        "another key"
    );
    // A flipped bit anywhere in the ciphertext fails authentication.
    let mut bytes = sealed.clone().into_bytes();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(bytes).expect("utf8");
    assert!(master.open_text("connector:pop", &tampered).is_err());
    // Values stored before sealing read as they are.
    assert_eq!(master.open_text("x", "plain").expect("plain"), "plain");
}

#[test]
fn only_a_missing_master_key_file_is_created_and_it_is_private() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("keys/master.key");
    let a = MasterKey::load(KeySource::File(path.clone())).expect("created");
    let b = MasterKey::load(KeySource::File(path.clone())).expect("read");
    assert_eq!(a.ids(), b.ids());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    std::fs::write(&path, "not a key").expect("write");
    let e = MasterKey::load(KeySource::File(path.clone())).expect_err("refused");
    assert!(e.to_string().contains("master.key"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "not a key");
}

#[test]
fn a_command_may_hold_the_master_key() {
    let key = "00112233445566778899aabbccddeeff";
    let m = MasterKey::load(KeySource::Command(format!("echo {key}"))).expect("command");
    assert_eq!(m.ids().len(), 1);
    assert!(MasterKey::load(KeySource::Command("exit 3".into())).is_err());
    assert!(MasterKey::load(KeySource::Command("echo short".into())).is_err());
}

#[test]
fn secret_files_are_sealed_created_once_and_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("dir");
    let master = MasterKey::ephemeral().expect("key");
    let path = dir.path().join("sharing/masking.key");
    let first = master.secret_file(&path).expect("created");
    assert_eq!(master.secret_file(&path).expect("read"), first);
    let text = std::fs::read_to_string(&path).expect("file");
    assert!(is_sealed(&text) && !text.contains(&hex::encode(first)));
    // A file written before sealing: the same key, now sealed.
    let legacy = dir.path().join("open/masking.key");
    std::fs::create_dir_all(legacy.parent().expect("parent")).expect("dir");
    std::fs::write(&legacy, hex::encode([7u8; 32])).expect("write");
    assert_eq!(master.secret_file(&legacy).expect("read"), [7u8; 32]);
    assert!(is_sealed(&std::fs::read_to_string(&legacy).expect("file")));
    // A sealed file moved into another's place does not open there.
    std::fs::copy(&path, &legacy).expect("copy");
    assert!(master.secret_file(&legacy).is_err());
    // Damaged: an error naming the file; the file stays.
    std::fs::write(&path, "garbage").expect("write");
    let e = master.secret_file(&path).expect_err("refused");
    assert!(e.to_string().contains("masking.key"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "garbage");
}

#[test]
fn rotation_keeps_every_secret_openable() {
    let dir = tempfile::tempdir().expect("dir");
    let kpath = dir.path().join("keys/master.key");
    let old = MasterKey::load(KeySource::File(kpath.clone())).expect("key");
    let file = dir.path().join("audit/subject.key");
    let secret = old.secret_file(&file).expect("secret");
    let value = old
        .seal_text("connector:c1", "mysql://u:pw@h/db")
        .expect("seal");

    let both = begin_rotation(&old).expect("begin");
    assert_eq!(both.ids().len(), 2);
    // A crash here leaves both keys in the file: everything still opens.
    let reloaded = MasterKey::load(KeySource::File(kpath.clone())).expect("reload");
    assert_eq!(reloaded.secret_file(&file).expect("opens"), secret);
    assert!(reloaded.reseal_file(&file).expect("resealed"));
    assert!(!reloaded.reseal_file(&file).expect("already current"));
    let value = reloaded
        .seal_text(
            "connector:c1",
            &reloaded.open_text("connector:c1", &value).expect("open"),
        )
        .expect("reseal");
    let new = finish_rotation(&reloaded).expect("finish");
    let after = MasterKey::load(KeySource::File(kpath)).expect("load");
    assert_eq!(after.ids(), new.ids());
    assert_ne!(after.ids(), old.ids());
    assert_eq!(after.secret_file(&file).expect("opens"), secret);
    assert_eq!(
        after.open_text("connector:c1", &value).expect("opens"),
        "mysql://u:pw@h/db"
    );
    assert!(
        old.secret_file(&file).is_err(),
        "the old key alone no longer opens it"
    );
}

proptest::proptest! {
    #[test]
    fn seal_then_open_is_the_identity(label in ".{0,40}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let master = MasterKey::ephemeral().expect("key");
        let sealed = master.seal(&label, &bytes).expect("seal");
        proptest::prop_assert_eq!(master.unseal(&label, &sealed).expect("open"), bytes);
    }
}
