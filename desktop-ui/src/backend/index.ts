// The one door between feature code and the outside world. Screens and stores talk
// to a `Backend`; `web.ts` implements it for browsers (fetch + WebSocket), the desktop
// app has `tauri.ts`. Nothing else calls fetch, WebSocket or Tauri.

import type { AccountDeleted } from '../generated/AccountDeleted';
import type { AckRequest } from '../generated/AckRequest';
import type { AdminDeleteUserRequest } from '../generated/AdminDeleteUserRequest';
import type { DeleteAccountRequest } from '../generated/DeleteAccountRequest';
import type { Attachment } from '../generated/Attachment';
import type { AuditEntry } from '../generated/AuditEntry';
import type { AuditLogQuery } from '../generated/AuditLogQuery';
import type { BanRequest } from '../generated/BanRequest';
import type { BanResult } from '../generated/BanResult';
import type { ModerationState } from '../generated/ModerationState';
import type { Block } from '../generated/Block';
import type { DirectMessage } from '../generated/DirectMessage';
import type { OpenDmRequest } from '../generated/OpenDmRequest';
import type { Timeout } from '../generated/Timeout';
import type { TimeoutRequest } from '../generated/TimeoutRequest';
import type { ApiError } from '../generated/ApiError';
import type { ErrorCode } from '../generated/ErrorCode';
import type { ChangeEmailRequest } from '../generated/ChangeEmailRequest';
import type { ChangePasswordRequest } from '../generated/ChangePasswordRequest';
import type { ChannelListEntry } from '../generated/ChannelListEntry';
import type { ChannelMember } from '../generated/ChannelMember';
import type { ChannelNotificationSettings } from '../generated/ChannelNotificationSettings';
import type { Channel } from '../generated/Channel';
import type { ClientFrame } from '../generated/ClientFrame';
import type { CreateChannelRequest } from '../generated/CreateChannelRequest';
import type { CreateGroupRequest } from '../generated/CreateGroupRequest';
import type { CreatedInvite } from '../generated/CreatedInvite';
import type { CreateInviteRequest } from '../generated/CreateInviteRequest';
import type { CreateUserRequest } from '../generated/CreateUserRequest';
import type { EditMessageRequest } from '../generated/EditMessageRequest';
import type { ForgotPasswordRequest } from '../generated/ForgotPasswordRequest';
import type { FeatureFlags } from '../generated/FeatureFlags';
import type { Invite } from '../generated/Invite';
import type { RegistrationInfo } from '../generated/RegistrationInfo';
import type { Group } from '../generated/Group';
import type { PttStatus } from '../generated/bridge/PttStatus';
import type { SoundDevices } from '../generated/bridge/SoundDevices';
import type { SoundSettings } from '../generated/bridge/SoundSettings';
import type { SoundStatus } from '../generated/bridge/SoundStatus';
import type { UpdateOffer } from '../generated/bridge/UpdateOffer';
import type { Id } from '../generated/Id';
import type { LinkPreview } from '../generated/LinkPreview';
import type { LinkPreviewQuery } from '../generated/LinkPreviewQuery';
import type { ListMembersQuery } from '../generated/ListMembersQuery';
import type { ListMessagesQuery } from '../generated/ListMessagesQuery';
import type { SearchHit } from '../generated/SearchHit';
import type { SearchQuery } from '../generated/SearchQuery';
import type { ListNotificationsQuery } from '../generated/ListNotificationsQuery';
import type { Message } from '../generated/Message';
import type { Pin } from '../generated/Pin';
import type { Notification } from '../generated/Notification';
import type { OwnUser } from '../generated/OwnUser';
import type { ReadState } from '../generated/ReadState';
import type { RegisterRequest } from '../generated/RegisterRequest';
import type { RegisterResponse } from '../generated/RegisterResponse';
import type { ResendConfirmationRequest } from '../generated/ResendConfirmationRequest';
import type { ResetPasswordRequest } from '../generated/ResetPasswordRequest';
import type { SendMessageRequest } from '../generated/SendMessageRequest';
import type { SessionLoginRequest } from '../generated/SessionLoginRequest';
import type { SetRoleRequest } from '../generated/SetRoleRequest';
import type { TokenRequest } from '../generated/TokenRequest';
import type { ServerFrame } from '../generated/ServerFrame';
import type { SessionInfo } from '../generated/SessionInfo';
import type { UpdateChannelRequest } from '../generated/UpdateChannelRequest';
import type { UpdateFeatureFlagsRequest } from '../generated/UpdateFeatureFlagsRequest';
import type { UpdateGroupRequest } from '../generated/UpdateGroupRequest';
import type { UpdateNotificationSettingsRequest } from '../generated/UpdateNotificationSettingsRequest';
import type { UpdateProfileRequest } from '../generated/UpdateProfileRequest';
import type { User } from '../generated/User';
import type { SelfTestReport } from '../generated/SelfTestReport';
import type { UpdateVoicePreferencesRequest } from '../generated/UpdateVoicePreferencesRequest';
import type { UpdateVoiceSettingsRequest } from '../generated/UpdateVoiceSettingsRequest';
import type { VoicePreferences } from '../generated/VoicePreferences';
import type { VoiceSettings } from '../generated/VoiceSettings';

/** A request the server refused, with its stable code. */
export class BackendError extends Error {
  readonly status: number;
  readonly code: ErrorCode | 'network';
  readonly field: string | null;

  constructor(status: number, body: ApiError | null, fallback = 'request failed') {
    super(body?.message ?? fallback);
    this.status = status;
    this.code = body?.code ?? 'network';
    this.field = body?.field ?? null;
  }

  /** Worth retrying unchanged: the network or the server hiccupped. */
  get retryable(): boolean {
    return this.code === 'network' || this.code === 'unavailable' || this.code === 'internal' || this.code === 'rate_limited';
  }
}

/** Where the gateway connection stands, for the UI's connection banner. */
/** A file the server sent as an attachment. */
export interface Download {
  filename: string;
  blob: Blob;
}

/** How an upload reports its progress and is cancelled. */
export interface UploadOptions {
  /** Bytes of the file sent so far. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting it cancels the upload; the promise then rejects. */
  signal?: AbortSignal;
}

export type GatewayStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

export interface GatewayHandlers {
  /** Every frame after hello: ready, events, resumed, voice answers, errors. */
  frame(frame: ServerFrame): void;
  status(status: GatewayStatus): void;
  /** The session could not be resumed (or is new): refetch everything over REST. */
  resync(): void;
  /** The login ended (revoked, logged out elsewhere): go back to the login screen. */
  signedOut(): void;
}

export interface Gateway {
  send(frame: ClientFrame): void;
  close(): void;
}

/** Global push-to-talk as the desktop app runs it: which backend, and why (generated from the app). */
export type { PttStatus };

/** Settings only the desktop app has; a browser backend leaves `desktop` unset. */
export interface DesktopSettings {
  /** Null until the app has started its push-to-talk backend (see `onPttStatus`). */
  pttStatus(): Promise<PttStatus | null>;
  onPttStatus(handler: (status: PttStatus) => void): Promise<() => void>;
  /**
   * Asks the app to take the next key or mouse side button pressed anywhere as the
   * key (reported through `onPttKeyCaptured`); false when only the window can capture.
   */
  capturePttKey(): Promise<boolean>;
  onPttKeyCaptured(handler: (key: string) => void): Promise<() => void>;
  setPttKey(key: string): Promise<void>;
  /** Whether push-to-talk may read keyboard devices on Wayland; applies at the next start. */
  evdevOptIn(): Promise<boolean>;
  setEvdevOptIn(enabled: boolean): Promise<void>;
  startAtLogin(): Promise<boolean>;
  setStartAtLogin(enabled: boolean): Promise<void>;
}

/** The desktop app's own microphone and speaker (the native voice engine's); generated from the app. */
export type { SoundDevices, SoundSettings, SoundStatus };

/** Sound settings of the native voice engine; a browser backend leaves `sound` unset. */
export interface NativeSound {
  /** The microphones and speakers the sound system offers now. */
  devices(): Promise<SoundDevices>;
  /** What this machine's config file holds. */
  settings(): Promise<SoundSettings>;
  /** Saves and applies them (at once in a call or mic test); answers them as kept (clamped). */
  update(settings: SoundSettings): Promise<SoundSettings>;
  /** The level and the devices in use right now. */
  status(): Promise<SoundStatus>;
  /** Hear yourself through the whole capture path; refused during a call. */
  micTest(on: boolean): Promise<void>;
}

/** A newer version of the desktop app, offered by its server (generated from the app). */
export type { UpdateOffer };

/** Updates of the desktop app itself; a browser backend leaves `updates` unset. */
export interface DesktopUpdates {
  /** Asks the signed-in server; null when nothing newer is offered. Rejects when it cannot ask. */
  check(): Promise<UpdateOffer | null>;
  /**
   * Installs the last offer and restarts the app into it. Rejects with the reason shown
   * to the user (a bad signature, a failed download); the running app stays as it is.
   */
  install(): Promise<void>;
}

export interface Backend {
  /** The server's address when the UI is not served by it (desktop app); '' = same origin. */
  readonly serverUrl: string;
  /** Present only inside the desktop app. */
  readonly desktop?: DesktopSettings;
  /** Present only inside the desktop app. */
  readonly updates?: DesktopUpdates;
  /** Present only inside the desktop app. */
  readonly sound?: NativeSound;

  register(req: RegisterRequest): Promise<RegisterResponse>;
  confirmAccount(req: TokenRequest): Promise<void>;
  confirmEmail(req: TokenRequest): Promise<void>;
  logIn(req: SessionLoginRequest): Promise<OwnUser>;
  logOut(): Promise<void>;
  forgotPassword(req: ForgotPasswordRequest): Promise<void>;
  /** Mails the account-confirmation link again; answers alike for any address. */
  resendConfirmation(req: ResendConfirmationRequest): Promise<void>;
  resetPassword(req: ResetPasswordRequest): Promise<void>;

  /** The signed-in user, or null when there is no session. */
  me(): Promise<OwnUser | null>;
  updateProfile(req: UpdateProfileRequest): Promise<OwnUser>;
  changePassword(req: ChangePasswordRequest): Promise<void>;
  changeEmail(req: ChangeEmailRequest): Promise<void>;
  listSessions(): Promise<SessionInfo[]>;
  revokeSession(id: Id): Promise<void>;
  /** Ends the account for good; the current password proves it is the owner. */
  deleteAccount(req: DeleteAccountRequest): Promise<AccountDeleted>;
  /** Everything the server holds about the caller, as a JSON file to save. */
  exportData(): Promise<Download>;

  listUsers(): Promise<User[]>;
  setRole(userId: Id, req: SetRoleRequest): Promise<User>;
  /** Admins: without `password` the new user is mailed a link to choose one. */
  createUser(req: CreateUserRequest): Promise<OwnUser>;
  /** Admins: deletes another account as its owner could. */
  deleteUser(userId: Id, req: AdminDeleteUserRequest): Promise<AccountDeleted>;

  listChannels(): Promise<ChannelListEntry[]>;
  createChannel(req: CreateChannelRequest): Promise<Channel>;
  updateChannel(id: Id, req: UpdateChannelRequest): Promise<Channel>;
  deleteChannel(id: Id): Promise<void>;
  joinChannel(id: Id): Promise<void>;
  leaveChannel(id: Id): Promise<void>;
  /** One page of a channel's members, by user id. */
  listMembers(channelId: Id, page?: ListMembersQuery): Promise<ChannelMember[]>;
  /** Admins: add anyone to any channel (a private one's members). */
  addMember(channelId: Id, userId: Id): Promise<ChannelMember>;
  removeMember(channelId: Id, userId: Id): Promise<void>;
  /** The caller's own level and mute for a channel. */
  updateNotificationSettings(channelId: Id, req: UpdateNotificationSettingsRequest): Promise<ChannelNotificationSettings>;

  /** Opens the direct message of the caller and these people, or finds theirs. */
  openDm(req: OpenDmRequest): Promise<DirectMessage>;
  /** The caller's direct messages with their participants (unread counts: `listChannels`). */
  listDms(): Promise<DirectMessage[]>;
  listBlocks(): Promise<Block[]>;
  blockUser(userId: Id): Promise<Block>;
  unblockUser(userId: Id): Promise<void>;

  /** Newest first, as the server pages them. */
  listMessages(channelId: Id, page?: ListMessagesQuery): Promise<Message[]>;
  /** With a nonce, so a retry can never store the message twice. */
  sendMessage(channelId: Id, req: SendMessageRequest): Promise<Message>;
  editMessage(id: Id, req: EditMessageRequest): Promise<Message>;
  deleteMessage(id: Id): Promise<void>;
  /** Idempotent: reacting twice with one emoji is one reaction. */
  addReaction(messageId: Id, emoji: string): Promise<void>;
  removeReaction(messageId: Id, emoji: string): Promise<void>;
  /** Newest pin first. */
  listPins(channelId: Id): Promise<Pin[]>;
  pinMessage(channelId: Id, messageId: Id): Promise<void>;
  unpinMessage(channelId: Id, messageId: Id): Promise<void>;
  ack(channelId: Id, req: AckRequest): Promise<ReadState>;
  /** One file for a message in the channel, sent with its `id` in `attachment_ids`. */
  uploadAttachment(channelId: Id, file: File, opts?: UploadOptions): Promise<Attachment>;
  /**
   * An address an `<img>` or a download link can use for an attachment's `url` or
   * `thumbnail_url`: the browser sends its session cookie with it, the app has to
   * fetch the bytes itself.
   */
  attachmentSrc(url: string): Promise<string>;
  /** Files the person chooses to attach: the browser's file picker, the app's native dialog. */
  pickFiles(): Promise<File[]>;
  /** Messages matching the words, best first, from the channels the caller may read. */
  searchMessages(query: SearchQuery): Promise<SearchHit[]>;

  listNotifications(query?: ListNotificationsQuery): Promise<Notification[]>;
  markNotificationRead(id: Id): Promise<void>;
  markAllNotificationsRead(): Promise<void>;

  listGroups(): Promise<Group[]>;
  createGroup(req: CreateGroupRequest): Promise<Group>;
  updateGroup(id: Id, req: UpdateGroupRequest): Promise<Group>;
  deleteGroup(id: Id): Promise<void>;

  featureFlags(): Promise<FeatureFlags>;
  updateFeatureFlags(req: UpdateFeatureFlagsRequest): Promise<FeatureFlags>;

  /** The registration mode, readable signed out (the Register screen asks it). */
  registrationInfo(): Promise<RegistrationInfo>;
  /** Admins, or members when `member_invites` is on; the code is in this answer only. */
  createInvite(req: CreateInviteRequest): Promise<CreatedInvite>;
  /** Every invite for admins, their own for members. */
  listInvites(): Promise<Invite[]>;
  revokeInvite(id: Id): Promise<Invite>;

  /** Admins and moderators: a timeout stops posting, typing and voice until it ends. */
  timeoutUser(userId: Id, req: TimeoutRequest): Promise<Timeout>;
  liftTimeout(userId: Id): Promise<void>;
  /** Ends every login of the user at once and refuses their address. */
  banUser(userId: Id, req: BanRequest): Promise<BanResult>;
  unbanUser(userId: Id): Promise<void>;
  /** Bans and the timeouts in force. */
  moderationState(): Promise<ModerationState>;
  /** Newest first; page back with `before`. */
  auditLog(query?: AuditLogQuery): Promise<AuditEntry[]>;

  /** The server's summary of an http(s) page (when the `link_previews` flag is on). */
  linkPreview(query: LinkPreviewQuery): Promise<LinkPreview>;

  voicePreferences(): Promise<VoicePreferences>;
  updateVoicePreferences(req: UpdateVoicePreferencesRequest): Promise<VoicePreferences>;
  voiceSettings(): Promise<VoiceSettings>;
  updateVoiceSettings(req: UpdateVoiceSettingsRequest): Promise<VoiceSettings>;
  /** The server tests its own TURN relay (admins). */
  voiceSelfTest(): Promise<SelfTestReport>;

  /** Opens the real-time connection; it reconnects and resumes by itself until closed. */
  connect(handlers: GatewayHandlers): Gateway;
}

/** True inside the desktop app's webview, where `tauri.ts` replaces `web.ts`. */
export function inTauri(w: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in w;
}
