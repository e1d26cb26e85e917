//! A TCP proxy the test controls, placed between the service and PostgreSQL,
//! to stage database outages without touching the shared server.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards both ways.
    Open,
    /// Closes every connection, and each new one as soon as it is accepted:
    /// the database is down.
    Cut,
    /// Keeps connections open but passes nothing, new ones included: the
    /// network drops packets. The case that hangs clients without timeouts.
    Blackhole,
}

/// Listens on a free loopback port and forwards to `upstream` until told otherwise.
pub struct DbProxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    accept_loop: JoinHandle<()>,
}

impl DbProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("an address"), upstream).await
    }

    /// Starts forwarding from `address` to `upstream`: the database appears
    /// at an address where nothing listened before.
    pub async fn start_on(address: SocketAddr, upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (mode, watcher) = watch::channel(Mode::Open);
        let accept_loop = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(serve(inbound, upstream, watcher.clone()));
            }
        });
        Self {
            address,
            mode,
            accept_loop,
        }
    }

    /// The address the service should connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The database goes down: every connection is closed, new ones too.
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// The network starts dropping everything, silently.
    pub fn blackhole(&self) {
        self.mode.send_replace(Mode::Blackhole);
    }

    /// The database is back. Connections opened during a blackhole are
    /// closed, as a long partition leaves them: dead.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Open);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        // Closes every connection still served.
        self.mode.send_replace(Mode::Cut);
    }
}

async fn serve(mut inbound: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Cut => return,
        Mode::Blackhole => {
            // Hold the socket, answering nothing, until the mode changes.
            let _ = mode.changed().await;
            return;
        }
        Mode::Open => {}
    }
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let closed_by = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => None,
        changed = mode.wait_for(|mode| *mode != Mode::Open) => changed.ok().map(|mode| *mode),
    };
    // Closing at once models a dead server; holding both sockets, silent,
    // until the next change models a network that drops packets.
    if closed_by == Some(Mode::Blackhole) {
        let _ = mode.changed().await;
    }
}

/// The parts of `url` (`postgres://user@host:port/db?…`) around its host and
/// port, which default to 5432.
fn split_authority(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user_info, host_port) = match authority.rsplit_once('@') {
        Some((user_info, host_port)) => (format!("{user_info}@"), host_port),
        None => (String::new(), authority),
    };
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    (
        format!("{scheme}://{user_info}"),
        host_port,
        tail.to_owned(),
    )
}

/// The address of the server `url` names.
pub fn upstream_of(url: &str) -> SocketAddr {
    let (_, host_port, _) = split_authority(url);
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .expect("the database host resolves")
        .next()
        .expect("an address")
}

/// `url` with its host and port replaced by `address`.
pub fn redirect(url: &str, address: SocketAddr) -> String {
    let (head, _, tail) = split_authority(url);
    format!("{head}{address}{tail}")
}

#[test]
fn a_redirected_url_keeps_everything_but_host_and_port() {
    let url = "postgres://postgres:pw@127.0.0.1:5432/test?x=1";
    let proxy: SocketAddr = "127.0.0.1:40000".parse().expect("address");

    assert_eq!(
        redirect(url, proxy),
        "postgres://postgres:pw@127.0.0.1:40000/test?x=1"
    );
    assert_eq!(upstream_of(url), "127.0.0.1:5432".parse().expect("address"));
}
