//! Version decoders: a binary protocol may carry its version as numbers a
//! regex cannot turn into text. A `[[product]]` match names one with
//! `version_decoder`; it receives the bytes of the `version` group.

/// Decoder names a catalog may use.
pub const DECODERS: &[&str] = &["tds"];

/// Applies the decoder `name` to the bytes of a `version` group.
pub fn decode(name: &str, bytes: &[u8]) -> Option<String> {
    match name {
        "tds" => tds_prelogin_version(bytes),
        _ => None,
    }
}

/// The VERSION option of a TDS PRELOGIN payload (MS-TDS 2.2.6.5): an option
/// table of (token, offset BE, length BE) ending with 0xFF, offsets counted
/// from the start of the payload; VERSION (token 0) is major, minor, build
/// (BE u16), sub-build. 15.0.2000 is SQL Server 2019.
pub fn tds_prelogin_version(payload: &[u8]) -> Option<String> {
    let mut at = 0;
    while *payload.get(at)? != 0xff {
        let entry = payload.get(at..at + 5)?;
        let offset = u16::from_be_bytes([entry[1], entry[2]]) as usize;
        let len = u16::from_be_bytes([entry[3], entry[4]]) as usize;
        if entry[0] == 0 && len >= 6 {
            let v = payload.get(offset..offset + 6)?;
            let build = u16::from_be_bytes([v[2], v[3]]);
            return Some(format!("{}.{}.{build}", v[0], v[1]));
        }
        at += 5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tds_version_follows_the_option_table() {
        // VERSION then ENCRYPTION, data after the terminator: 15.0.2000.5.
        let p = [
            0x00, 0x00, 0x0b, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xff, 0x0f, 0x00, 0x07,
            0xd0, 0x00, 0x05, 0x02,
        ];
        assert_eq!(tds_prelogin_version(&p).as_deref(), Some("15.0.2000"));
        assert_eq!(decode("tds", &p).as_deref(), Some("15.0.2000"));
        assert_eq!(decode("nope", &p), None);
    }

    #[test]
    fn tds_version_refuses_truncated_or_absent_data() {
        // The offset points past the end.
        let p = [0x00, 0x00, 0x40, 0x00, 0x06, 0xff, 0x0f, 0x00];
        assert_eq!(tds_prelogin_version(&p), None);
        // No terminator, no VERSION.
        assert_eq!(tds_prelogin_version(&[0x01, 0x00, 0x06, 0x00]), None);
        assert_eq!(
            tds_prelogin_version(&[0x01, 0x00, 0x06, 0x00, 0x01, 0xff, 0x00]),
            None
        );
        assert_eq!(tds_prelogin_version(&[]), None);
    }
}
