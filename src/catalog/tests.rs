use super::*;

fn cat() -> Catalog {
    Catalog::embedded()
}

#[test]
fn embedded_catalog_is_valid() {
    let c = cat();
    assert!(c.products.len() > 20);
    assert!(c.tcp_ports().contains(&22));
}

#[test]
fn ssh_banners_identify_product_version_and_os() {
    let c = cat();
    let debian = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    let id = c.identify("banner", 22, debian).unwrap();
    assert_eq!(
        (id.product.id.as_str(), id.version.as_deref()),
        ("openssh", Some("9.2p1"))
    );
    let hints = c.os_hints("banner", debian);
    assert!(
        hints
            .iter()
            .any(|h| h.family == OsFamily::Linux && h.version.as_deref() == Some("12")),
        "{hints:?}"
    );
    assert!(hints.iter().all(|h| h.strength == Strength::Weak));

    let win = b"SSH-2.0-OpenSSH_for_Windows_9.5\r\n";
    assert_eq!(
        c.identify("banner", 22, win).unwrap().product.id,
        "openssh-windows"
    );
    assert_eq!(c.os_hints("banner", win)[0].family, OsFamily::Windows);
}

#[test]
fn samba_is_not_taken_for_windows() {
    let c = cat();
    // Shape of a Samba AD DC rootDSE answer: the AD capability OID plus vendorName.
    let samba = b"0\x84\x00\x00\x01\x00\x02\x01\x01d\x84 supportedCapabilities 1.2.840.113556.1.4.800 vendorName1$\x04\"Samba Team (https://www.samba.org)";
    assert_eq!(
        c.identify("ldap-rootdse", 389, samba).unwrap().product.id,
        "samba-ad"
    );
    assert!(
        c.os_hints("ldap-rootdse", samba).is_empty(),
        "Samba runs on Linux: no Windows signal"
    );
    let ad = b"0\x84\x00\x00\x01\x00\x02\x01\x01d\x84 supportedCapabilities 1.2.840.113556.1.4.800 1.2.840.113556.1.4.1670";
    assert_eq!(
        c.identify("ldap-rootdse", 389, ad).unwrap().product.id,
        "active-directory"
    );
    assert_eq!(c.os_hints("ldap-rootdse", ad)[0].family, OsFamily::Windows);
}

#[test]
fn http_server_headers() {
    let c = cat();
    let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>";
    let id = c.identify("http", 80, nginx).unwrap();
    assert_eq!(
        (id.product.id.as_str(), id.version.as_deref()),
        ("nginx", Some("1.22.1"))
    );
    let iis = b"HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/10.0\r\n\r\n";
    assert_eq!(c.identify("http", 80, iis).unwrap().product.id, "iis");
    assert_eq!(c.os_hints("http", iis)[0].family, OsFamily::Windows);
    let unknown = b"HTTP/1.1 404 Not Found\r\n\r\n";
    assert_eq!(c.identify("http", 80, unknown).unwrap().product.id, "http");
}

#[test]
fn mariadb_greeting_and_refusal() {
    let c = cat();
    let mut greeting = vec![0x5b, 0, 0, 0, 0x0a];
    greeting.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0rest");
    let id = c.identify("banner", 3306, &greeting).unwrap();
    assert_eq!(
        (id.product.id.as_str(), id.version.as_deref()),
        ("mariadb", Some("10.11.6"))
    );
    let mut refused = vec![0x45, 0, 0, 0, 0xff, 0x6a, 0x04];
    refused.extend_from_slice(
        b"Host '198.18.10.250' is not allowed to connect to this MariaDB server",
    );
    assert_eq!(
        c.identify("banner", 3306, &refused).unwrap().product.id,
        "mariadb"
    );
}

#[test]
fn probes_for_unclaimed_ports_fall_back() {
    let c = cat();
    let ids: Vec<&str> = c
        .probes_for_port(7001)
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["banner", "http"]);
    assert_eq!(c.probes_for_port(5432)[0].id, "postgres-startup");
}

#[test]
fn bad_catalog_is_diagnosed() {
    let mut src = Source::new(
        "c.toml",
        "[[probe]]\nid = \"p\"\nsend_hex = \"zz\"\n\n[[product]]\nid = \"x\"\nname = \"X\"\ncapabilities = [\"magic\"]\nmatch = [{ probe = \"nope\", pattern = \"(\" }]\n",
    );
    let mut c = Catalog::default();
    c.parse_into(&mut src);
    let codes: Vec<_> = src.diags.0.iter().map(|d| (d.code, d.line)).collect();
    assert!(
        codes.contains(&(crate::diag::Code::InvalidValue, 3)),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(crate::diag::Code::UnknownReference, 9)),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(crate::diag::Code::InvalidPattern, 9)),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(crate::diag::Code::UnknownReference, 8)),
        "{codes:?}"
    );
}

/// A recorded answer kept as hex in tests/fixtures (see the README there).
fn fixture(hex: &str) -> Vec<u8> {
    decode_hex(hex).expect("fixture is hex")
}

#[test]
fn sql_server_prelogin_answer_gives_product_and_version() {
    let c = cat();
    let probe = c.probe("tds-prelogin").unwrap();
    let sent = probe.payload("198.18.0.1");
    assert_eq!(sent[0], 0x12, "a PRELOGIN packet");
    assert_eq!(u16::from_be_bytes([sent[2], sent[3]]) as usize, sent.len());
    assert!(c.tcp_ports().contains(&1433));
    assert_eq!(c.probes_for_port(1433)[0].id, "tds-prelogin");

    // SQL Server 2008 SP3 (10.0.5512), recorded by pytds.
    let answer = fixture(include_str!(
        "../../tests/fixtures/mssql/prelogin-response-sql2008.hex"
    ));
    let id = c.identify("tds-prelogin", 1433, &answer).unwrap();
    assert_eq!(
        (id.product.id.as_str(), id.version.as_deref()),
        ("mssql", Some("10.0.5512"))
    );
    assert_eq!(id.product.open_source, Some(false));
    assert_eq!(id.product.capabilities, ["dbms"]);
    assert!(
        c.os_hints("tds-prelogin", &answer).is_empty(),
        "SQL Server runs on Linux too: no OS signal"
    );
    // Cut before the VERSION data: not taken for SQL Server yet.
    assert!(c.identify("tds-prelogin", 1433, &answer[..34]).is_none());
    // Our own request is no answer.
    assert!(c.identify("tds-prelogin", 1433, &sent).is_none());
}

#[test]
fn mongodb_handshake_answers_identify_mongodb_without_version() {
    let c = cat();
    let probe = c.probe("mongodb-ismaster").unwrap();
    let sent = probe.payload("198.18.0.1");
    assert_eq!(
        u32::from_le_bytes(sent[..4].try_into().unwrap()) as usize,
        sent.len()
    );
    assert_eq!(&sent[12..16], &2004u32.to_le_bytes(), "OP_QUERY");
    assert!(c.tcp_ports().contains(&27017));

    for (what, hex) in [
        (
            "MongoDB 7.0 (maxWireVersion 21)",
            include_str!("../../tests/fixtures/mongodb/ismaster-reply-7.0.hex"),
        ),
        (
            "MongoDB 3.6 (maxWireVersion 6)",
            include_str!("../../tests/fixtures/mongodb/ismaster-reply-3.6.hex"),
        ),
    ] {
        let answer = fixture(hex);
        let id = c
            .identify("mongodb-ismaster", 27017, &answer)
            .unwrap_or_else(|| panic!("{what} not recognised"));
        assert_eq!(id.product.id, "mongodb", "{what}");
        assert_eq!(id.version, None, "{what}: the handshake carries no version");
        assert_eq!(id.product.capabilities, ["dbms"]);
        assert!(c.os_hints("mongodb-ismaster", &answer).is_empty());
    }
    // The request itself (an OP_QUERY naming isMaster) is no answer.
    assert!(c.identify("mongodb-ismaster", 27017, &sent).is_none());
}

#[test]
fn unknown_version_decoder_is_diagnosed() {
    let mut src = Source::new(
        "c.toml",
        "[[probe]]\nid = \"p\"\n\n[[product]]\nid = \"x\"\nname = \"X\"\nmatch = [{ probe = \"p\", pattern = \"(?P<version>.+)\", version_decoder = \"rot13\" }]\n",
    );
    let mut c = Catalog::default();
    c.parse_into(&mut src);
    let codes: Vec<_> = src.diags.0.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(codes, [(crate::diag::Code::InvalidValue, 7)], "{codes:?}");
}
