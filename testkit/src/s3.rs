//! A real S3-compatible server on loopback (moto in server mode, `scripts/s3_server.py`),
//! for tests of the attachment store's bucket backend.

use crate::python_server::PythonServer;

/// The server, stopped when dropped. Its Python comes from `CROMULENT_TEST_PYTHON` (else
/// `python3`), which must have moto's server extra (`scripts/test.sh` installs it). It
/// takes any access key and secret.
pub struct S3Server {
    server: PythonServer,
    http: reqwest::Client,
}

impl S3Server {
    pub async fn start() -> Self {
        let server = PythonServer::start("s3_server.py", &[], "moto's server extra").await;
        S3Server { server, http: reqwest::Client::new() }
    }

    /// `http://127.0.0.1:<port>`, the endpoint to configure.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let reply =
            self.http.put(format!("{}/{bucket}", self.endpoint())).send().await.expect("reaches moto");
        assert!(reply.status().is_success(), "bucket {bucket} created: {}", reply.status());
    }

    /// The keys of every object in the bucket, in key order.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let url = format!("{}/{bucket}?list-type=2", self.endpoint());
        let xml = self.http.get(url).send().await.expect("reaches moto").text().await.expect("a listing");
        xml.split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// An object's bytes, if it exists.
    pub async fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let reply =
            self.http.get(format!("{}/{bucket}/{key}", self.endpoint())).send().await.expect("reaches moto");
        if !reply.status().is_success() {
            return None;
        }
        Some(reply.bytes().await.expect("the object's bytes").to_vec())
    }
}
