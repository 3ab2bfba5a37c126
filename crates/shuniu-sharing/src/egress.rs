//! Where the hub may send data: webhook deliveries go to the consumer's systems, never to the
//! hub's own network. A URL whose host resolves to a loopback, private, link-local (cloud
//! metadata at 169.254.169.254 included), shared, multicast or unspecified address is refused
//! unless the operator allow-lists the host. A delivery resolves the host once, checks every
//! address, and connects to the checked address only (the client is pinned to it), so a DNS
//! answer that changes between the check and the connection cannot redirect it; redirects are
//! not followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::SharingError;

/// Whether an address belongs to the hub's own or a private network.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 well-known prefix 64:ff9b::/96
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240 // reserved
}

/// A checked destination: the URL and the one address a delivery connects to.
#[derive(Debug, Clone)]
pub struct Destination {
    pub url: url::Url,
    pub host: String,
    pub address: SocketAddr,
}

fn forbidden(zh: String, en: String) -> SharingError {
    SharingError::invalid("WEBHOOK_URL_FORBIDDEN", zh, en)
}

/// Parses, resolves and checks a webhook URL against the allow-list (host names or
/// addresses the operator set; matched case-insensitively).
pub async fn check(url: &str, allowed: &[String]) -> Result<Destination, SharingError> {
    let parsed = url::Url::parse(url).map_err(|_| {
        SharingError::invalid(
            "WEBHOOK_URL_INVALID",
            "回调地址不是有效的 URL",
            "the webhook URL is not a valid URL",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SharingError::invalid(
            "WEBHOOK_URL_INVALID",
            "回调地址须为 http 或 https",
            "the webhook URL must be http or https",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SharingError::invalid(
            "WEBHOOK_URL_INVALID",
            "回调地址不能包含用户名或密码",
            "the webhook URL must not carry a user name or password",
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| {
            SharingError::invalid(
                "WEBHOOK_URL_INVALID",
                "回调地址缺少主机名",
                "the webhook URL has no host",
            )
        })?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_lowercase();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let allow_listed = allowed.iter().any(|a| a.trim().eq_ignore_ascii_case(&host));
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| {
                SharingError::invalid(
                    "WEBHOOK_HOST_UNRESOLVED",
                    format!("回调地址的主机名无法解析：{host}（{e}）"),
                    format!("the webhook host {host} cannot be resolved ({e})"),
                )
            })?
            .collect(),
    };
    let Some(first) = addresses.first().copied() else {
        return Err(SharingError::invalid(
            "WEBHOOK_HOST_UNRESOLVED",
            format!("回调地址的主机名无法解析：{host}"),
            format!("the webhook host {host} cannot be resolved"),
        ));
    };
    if !allow_listed {
        // Every address the name has must be outside: a name that also points inside could
        // be answered with the inside address at delivery time.
        if let Some(bad) = addresses.iter().find(|a| is_internal(a.ip())) {
            return Err(forbidden(
                format!(
                    "回调地址指向内部网络地址 {}，不允许；如确需推送到该主机，请由运维人员将其加入 webhook_allow_hosts",
                    bad.ip()
                ),
                format!(
                    "the webhook URL points at an internal address ({}); the operator can allow the host in webhook_allow_hosts",
                    bad.ip()
                ),
            ));
        }
    }
    Ok(Destination {
        url: parsed,
        host,
        address: first,
    })
}

/// A client that connects to the checked address only, follows no redirect, and gives up
/// after `timeout`.
pub fn pinned_client(
    d: &Destination,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, SharingError> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if d.host.parse::<IpAddr>().is_err() {
        b = b.resolve(&d.host, d.address);
    }
    b.build()
        .map_err(|e| SharingError::Index(format!("HTTP client: {e}")))
}

/// POSTs a JSON body to a checked destination, signed with HMAC-SM3 under `secret`, from a
/// client pinned to the checked address: `"ok"` when the receiver answered 2xx, else why not
/// (`HTTP 503`, `unreachable: …`).
pub async fn post_signed(
    d: &Destination,
    delivery: &str,
    event: Option<&str>,
    secret: &str,
    body: Vec<u8>,
) -> String {
    let client = match pinned_client(d, std::time::Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signature = crate::webhooks::sign(secret, &timestamp, &body);
    let mut request = client
        .post(d.url.as_str())
        .header("content-type", "application/json")
        .header("x-shuniu-delivery", delivery)
        .header("x-shuniu-timestamp", &timestamp)
        .header("x-shuniu-signature", signature);
    if let Some(event) = event {
        request = request.header("x-shuniu-event", event);
    }
    match request.body(body).send().await {
        Ok(r) if r.status().is_success() => "ok".to_string(),
        Ok(r) => format!("HTTP {}", r.status().as_u16()),
        Err(e) => format!("unreachable: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "203.119.25.1", "2400:3200::1"] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_to_the_hub_s_own_network_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://localhost:8080/hook",
            "http://10.0.0.5/hook",
        ] {
            let e = check(url, &[]).await.expect_err(url);
            assert_eq!(e.code(), "WEBHOOK_URL_FORBIDDEN", "{url}");
        }
        let d = check("http://127.0.0.1:9000/hook", &["127.0.0.1".into()])
            .await
            .expect("allow-listed");
        assert_eq!(
            d.address,
            "127.0.0.1:9000".parse::<SocketAddr>().expect("addr")
        );
        assert!(check("ftp://example.org/x", &[]).await.is_err());
        assert!(check("http://user:pw@203.119.25.1/", &[]).await.is_err());
        assert!(check("http://203.119.25.1:8443/hook", &[]).await.is_ok());
    }
}
