//! How this computer is named in the account's list of signed-in devices.

/// `"{program} on {host}"`, or the program alone when the host has no name.
pub fn device_name(program: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("{program} on {host}"),
        None => program.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_program_leads_the_name() {
        let name = super::device_name("Cromulent desktop");
        assert!(
            name.starts_with("Cromulent desktop"),
            "the device list says which program logged in: {name}"
        );
        assert!(!name.ends_with(" on "), "no dangling host: {name}");
    }
}
