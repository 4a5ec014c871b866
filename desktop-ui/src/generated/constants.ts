// Generated from cromulent-protocol's constants (limits, gateway, notification, moderation, dm). Do not edit.

/**
 * Bumped on incompatible changes; a client sending another version is closed with
 * [`close_code::UNSUPPORTED_VERSION`].
 */
export const PROTOCOL_VERSION = 1;
/**
 * Largest text frame the server reads, in bytes, but for `sdp_offer` and
 * `sdp_answer`, whose limit is the server's `GATEWAY_MAX_SDP_BYTES` setting.
 */
export const MAX_INBOUND_FRAME_BYTES = 16384;
/** Passwords: length only, no composition rules (NIST SP 800-63B), counted in characters. */
export const PASSWORD_MIN_CHARS = 12;
export const PASSWORD_MAX_CHARS = 256;
export const USERNAME_MIN_CHARS = 2;
export const USERNAME_MAX_CHARS = 32;
export const DISPLAY_NAME_MAX_CHARS = 64;
export const EMAIL_MAX_CHARS = 254;
export const AVATAR_URL_MAX_CHARS = 2048;
export const CHANNEL_NAME_MAX_CHARS = 64;
export const CHANNEL_TOPIC_MAX_CHARS = 512;
export const GROUP_NAME_MAX_CHARS = 32;
export const DEVICE_NAME_MAX_CHARS = 128;
/** Markdown source of one message, in characters. */
export const MESSAGE_BODY_MAX_CHARS = 4000;
/** Files one message may carry. */
export const MESSAGE_ATTACHMENTS_MAX = 10;
/** Characters of an attachment's file name; longer names are shortened, keeping the extension. */
export const ATTACHMENT_FILENAME_MAX_CHARS = 255;
/** Pixels on the longer side of an image attachment's thumbnail. */
export const ATTACHMENT_THUMBNAIL_MAX_PX = 400;
export const NONCE_MAX_CHARS = 64;
/** Characters of the first line a reply shows of the message it answers. */
export const REPLY_EXCERPT_MAX_CHARS = 100;
/** Bytes of an emoji in a reaction path; the longest emoji sequences are shorter. */
export const REACTION_EMOJI_MAX_BYTES = 64;
/** Largest JSON request body the API reads. */
export const REQUEST_BODY_MAX_BYTES = 65536;
export const MESSAGE_PAGE_DEFAULT = 50;
export const MESSAGE_PAGE_MAX = 100;
/** Channel members per page, in user id order. */
export const MEMBER_PAGE_DEFAULT = 1000;
export const MEMBER_PAGE_MAX = 1000;
/** Search (`GET /api/search`): the query's length in characters and its words. */
export const SEARCH_QUERY_MAX_CHARS = 256;
export const SEARCH_TERMS_MAX = 16;
export const SEARCH_RESULTS_DEFAULT = 25;
export const SEARCH_RESULTS_MAX = 100;
/** The longest one may mute a channel for (a year); longer is `nothing`. */
export const CHANNEL_MUTE_MAX_SECS = 31622400;
/** Notifications per inbox page unless `limit` says otherwise. */
export const NOTIFICATION_PAGE_DEFAULT = 50;
export const NOTIFICATION_PAGE_MAX = 100;
/** A moderation reason, counted in characters. */
export const MODERATION_REASON_MAX_CHARS = 512;
export const AUDIT_LOG_PAGE_DEFAULT = 50;
export const AUDIT_LOG_PAGE_MAX = 100;
/** Other people one direct message may hold besides its opener (so 2 to 10 in all). */
export const DM_OTHERS_MAX = 9;

/** WebSocket close codes the server uses (4000-4999 are application codes). */
export const CLOSE_CODE = {
  /** Normal closure. */
  NORMAL: 1000,
  /** The server is shutting down; reconnect and resume. */
  GOING_AWAY: 1001,
  /** A frame over [`super::MAX_INBOUND_FRAME_BYTES`]. */
  FRAME_TOO_LARGE: 1009,
  /** A frame that is not valid JSON of a known op. Do not resend it. */
  DECODE_ERROR: 4001,
  /** An op other than identify/resume/heartbeat before identifying. */
  NOT_AUTHENTICATED: 4003,
  /** Identify/resume with a bad, expired or revoked token. Refresh and reconnect. */
  AUTHENTICATION_FAILED: 4004,
  /** A second identify on the same connection. */
  ALREADY_AUTHENTICATED: 4005,
  /** No heartbeat within the timeout. Reconnect and resume. */
  HEARTBEAT_TIMEOUT: 4006,
  /** Too many commands; reconnect after a pause. */
  RATE_LIMITED: 4008,
  /** The login behind this connection ended (logout, password change, revocation). */
  SESSION_REVOKED: 4009,
  /** The client's protocol version is not supported. Update the client. */
  UNSUPPORTED_VERSION: 4010,
  /** The client read too slowly and its outbound queue filled. Reconnect and resume. */
  SLOW_CONSUMER: 4011,
  /** The server has reached its connection cap. Retry later. */
  SERVER_FULL: 4012,
  /**
   * Identify/resume did not arrive in time after hello (`GATEWAY_IDENTIFY_TIMEOUT_MS`).
   * Reconnect.
   */
  IDENTIFY_TIMEOUT: 4013,
  /**
   * Identify/resume refused: the user already has as many sessions open as the server
   * allows (`GATEWAY_MAX_CONNECTIONS_PER_USER`). Retry after a pause, once one closes.
   */
  TOO_MANY_SESSIONS: 4014,
  /** The account was deleted (by its owner or an admin). Do not reconnect: sign out. */
  ACCOUNT_DELETED: 4015,
} as const;

/** Every event `type` this build knows; others come from a newer server. */
export const EVENT_TYPES = [
  'message_create',
  'message_update',
  'message_delete',
  'reaction_add',
  'reaction_remove',
  'pins_update',
  'channel_create',
  'channel_update',
  'channel_delete',
  'member_join',
  'member_leave',
  'read_state_update',
  'notification_create',
  'notifications_read',
  'notification_settings_update',
  'presence_update',
  'typing_start',
  'user_update',
  'group_update',
  'group_delete',
  'feature_flags_update',
  'call_ring',
  'call_declined',
  'voice_state_update',
  'peer_joined',
  'peer_left',
  'voice_mode_changed',
  'sdp_offer',
  'sdp_answer',
  'ice_candidate',
  'ptt_state',
] as const;
