//! The NATS link: publish JSON to one subject, and feed everything on it to the hub.

use tokio::sync::mpsc;

use super::{BusError, BusMessage};

#[derive(Debug, Clone)]
pub struct Link {
    client: async_nats::Client,
    subject: String,
}

impl Link {
    pub async fn connect(
        url: &str,
        subject: &str,
        inbox: mpsc::Sender<BusMessage>,
    ) -> Result<Self, BusError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|source| BusError::Connect { url: url.to_owned(), source })?;
        let mut subscriber = client.subscribe(subject.to_owned()).await.map_err(BusError::Subscribe)?;
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(msg) = subscriber.next().await {
                match serde_json::from_slice::<BusMessage>(&msg.payload) {
                    Ok(message) => {
                        if inbox.send(message).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable bus message ignored"),
                }
            }
            tracing::warn!("NATS subscription ended");
        });
        tracing::info!(%url, %subject, "real-time bus on NATS");
        Ok(Self { client, subject: subject.to_owned() })
    }

    pub async fn publish(&self, message: &BusMessage) {
        let payload = match serde_json::to_vec(message) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "bus message not serializable");
                return;
            }
        };
        if let Err(e) = self.client.publish(self.subject.clone(), payload.into()).await {
            tracing::warn!(error = %e, "NATS publish failed; event dropped");
        }
    }
}
