//! The MQTT decoder on arbitrary bytes: it never panics, never claims more bytes than it was
//! given, and whatever it accepts re-encodes to a frame that decodes to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythongoose::mqtt::codec::decode_packet;

fuzz_target!(|data: &[u8]| {
    let Some((&limit_choice, input)) = data.split_first() else { return };
    let limit = [0usize, 1, 3, 64, 300, usize::MAX][usize::from(limit_choice) % 6];
    match decode_packet(input, limit) {
        Ok(Some((packet, used))) => {
            assert!(used >= 2 && used <= input.len());
            let mut again = Vec::new();
            packet.encode(&mut again).expect("a decoded packet re-encodes");
            let (reparsed, reused) = decode_packet(&again, usize::MAX)
                .expect("our own encoding decodes")
                .expect("our own encoding is complete");
            assert_eq!(reparsed, packet);
            assert_eq!(reused, again.len());
        }
        Ok(None) => {
            // Incomplete: every prefix is incomplete too (no packet appears from fewer bytes).
            for cut in 0..input.len() {
                assert!(matches!(decode_packet(&input[..cut], limit), Ok(None) | Err(_)));
            }
        }
        Err(error) => assert!(!error.message().is_empty()),
    }
});
