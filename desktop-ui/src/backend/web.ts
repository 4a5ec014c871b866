// The browser's Backend: REST with the HttpOnly session cookie, the gateway over a
// WebSocket to the same origin. `fetch` and `WebSocket` are injectable for tests.

import type { AccountDeleted } from '../generated/AccountDeleted';
import type { AckRequest } from '../generated/AckRequest';
import type { AdminDeleteUserRequest } from '../generated/AdminDeleteUserRequest';
import type { ApiError } from '../generated/ApiError';
import type { Attachment } from '../generated/Attachment';
import type { AuditEntry } from '../generated/AuditEntry';
import type { AuditLogQuery } from '../generated/AuditLogQuery';
import type { BanRequest } from '../generated/BanRequest';
import type { Block } from '../generated/Block';
import type { DirectMessage } from '../generated/DirectMessage';
import type { OpenDmRequest } from '../generated/OpenDmRequest';
import type { BanResult } from '../generated/BanResult';
import type { ChangeEmailRequest } from '../generated/ChangeEmailRequest';
import type { ChangePasswordRequest } from '../generated/ChangePasswordRequest';
import type { Channel } from '../generated/Channel';
import type { ChannelListEntry } from '../generated/ChannelListEntry';
import type { ChannelMember } from '../generated/ChannelMember';
import type { ChannelNotificationSettings } from '../generated/ChannelNotificationSettings';
import type { CreateChannelRequest } from '../generated/CreateChannelRequest';
import type { CreateGroupRequest } from '../generated/CreateGroupRequest';
import type { CreateInviteRequest } from '../generated/CreateInviteRequest';
import type { CreateUserRequest } from '../generated/CreateUserRequest';
import type { CreatedInvite } from '../generated/CreatedInvite';
import type { DeleteAccountRequest } from '../generated/DeleteAccountRequest';
import type { EditMessageRequest } from '../generated/EditMessageRequest';
import type { FeatureFlags } from '../generated/FeatureFlags';
import type { ForgotPasswordRequest } from '../generated/ForgotPasswordRequest';
import type { Group } from '../generated/Group';
import type { Id } from '../generated/Id';
import type { Invite } from '../generated/Invite';
import type { LinkPreview } from '../generated/LinkPreview';
import type { LinkPreviewQuery } from '../generated/LinkPreviewQuery';
import type { ListMembersQuery } from '../generated/ListMembersQuery';
import type { ListMessagesQuery } from '../generated/ListMessagesQuery';
import type { SearchHit } from '../generated/SearchHit';
import type { SearchQuery } from '../generated/SearchQuery';
import type { ListNotificationsQuery } from '../generated/ListNotificationsQuery';
import type { Message } from '../generated/Message';
import type { Pin } from '../generated/Pin';
import type { ModerationState } from '../generated/ModerationState';
import type { Notification } from '../generated/Notification';
import type { OwnUser } from '../generated/OwnUser';
import type { ReadState } from '../generated/ReadState';
import type { RegisterRequest } from '../generated/RegisterRequest';
import type { RegisterResponse } from '../generated/RegisterResponse';
import type { RegistrationInfo } from '../generated/RegistrationInfo';
import type { ResendConfirmationRequest } from '../generated/ResendConfirmationRequest';
import type { ResetPasswordRequest } from '../generated/ResetPasswordRequest';
import type { SelfTestReport } from '../generated/SelfTestReport';
import type { SendMessageRequest } from '../generated/SendMessageRequest';
import type { SessionInfo } from '../generated/SessionInfo';
import type { SessionLoginRequest } from '../generated/SessionLoginRequest';
import type { SessionLoginResponse } from '../generated/SessionLoginResponse';
import type { SetRoleRequest } from '../generated/SetRoleRequest';
import type { Timeout } from '../generated/Timeout';
import type { TimeoutRequest } from '../generated/TimeoutRequest';
import type { TokenRequest } from '../generated/TokenRequest';
import type { UpdateChannelRequest } from '../generated/UpdateChannelRequest';
import type { UpdateFeatureFlagsRequest } from '../generated/UpdateFeatureFlagsRequest';
import type { UpdateGroupRequest } from '../generated/UpdateGroupRequest';
import type { UpdateNotificationSettingsRequest } from '../generated/UpdateNotificationSettingsRequest';
import type { UpdateProfileRequest } from '../generated/UpdateProfileRequest';
import type { UpdateVoicePreferencesRequest } from '../generated/UpdateVoicePreferencesRequest';
import type { UpdateVoiceSettingsRequest } from '../generated/UpdateVoiceSettingsRequest';
import type { User } from '../generated/User';
import type { VoicePreferences } from '../generated/VoicePreferences';
import type { VoiceSettings } from '../generated/VoiceSettings';
import { GatewayConnection, type SocketLike } from './gateway';
import { BackendError, type Backend, type Download, type Gateway, type GatewayHandlers, type UploadOptions } from './index';

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The part of XMLHttpRequest an upload uses. XHR, not fetch: only XHR reports how much
 * of a request body has been sent, and that is the progress bar.
 */
export interface XhrLike {
  withCredentials: boolean;
  status: number;
  responseText: string;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: FormData): void;
  abort(): void;
}

export interface WebBackendOptions {
  /** '' for the origin the page came from. */
  serverUrl?: string;
  fetch?: FetchLike;
  openSocket?: (url: string) => SocketLike;
  xhr?: () => XhrLike;
  /** Page origin, used to build the gateway URL when serverUrl is ''. */
  location?: { protocol: string; host: string };
}

export class WebBackend implements Backend {
  readonly serverUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly openSocket: (url: string) => SocketLike;
  private readonly newXhr: () => XhrLike;
  private readonly location: { protocol: string; host: string };

  constructor(opts: WebBackendOptions = {}) {
    this.serverUrl = (opts.serverUrl ?? '').replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.openSocket = opts.openSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.location = opts.location ?? globalThis.location;
    this.newXhr = opts.xhr ?? (() => new XMLHttpRequest() as unknown as XhrLike);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = {
      method,
      // Same origin only: the session cookie never rides along to another site.
      credentials: this.serverUrl ? 'include' : 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response: Response;
    try {
      response = await this.fetchImpl(this.serverUrl + path, init);
    } catch {
      throw new BackendError(0, null, 'cannot reach the server');
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) throw failure(response.status, parsed);
    return parsed as T;
  }

  /** A file the server sends as an attachment: its name and its bytes. */
  private async download(path: string, fallbackName: string): Promise<Download> {
    let response: Response;
    try {
      response = await this.fetchImpl(this.serverUrl + path, {
        method: 'GET',
        credentials: this.serverUrl ? 'include' : 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch {
      throw new BackendError(0, null, 'cannot reach the server');
    }
    if (!response.ok) {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(await response.text());
      } catch {
        parsed = null;
      }
      throw failure(response.status, parsed);
    }
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
    return { filename, blob: await response.blob() };
  }

  register(req: RegisterRequest) {
    return this.request<RegisterResponse>('POST', '/api/auth/register', req);
  }
  async confirmAccount(req: TokenRequest) {
    await this.request('POST', '/api/auth/confirm', req);
  }
  async confirmEmail(req: TokenRequest) {
    await this.request('POST', '/api/auth/confirm_email', req);
  }
  async logIn(req: SessionLoginRequest) {
    const res = await this.request<SessionLoginResponse>('POST', '/api/auth/session', req);
    return res.user;
  }
  async logOut() {
    await this.request('DELETE', '/api/auth/session');
  }
  async forgotPassword(req: ForgotPasswordRequest) {
    await this.request('POST', '/api/auth/forgot_password', req);
  }
  async resendConfirmation(req: ResendConfirmationRequest) {
    await this.request('POST', '/api/auth/resend_confirmation', req);
  }
  async resetPassword(req: ResetPasswordRequest) {
    await this.request('POST', '/api/auth/reset_password', req);
  }

  async me() {
    try {
      return await this.request<OwnUser>('GET', '/api/users/me');
    } catch (e) {
      if (e instanceof BackendError && e.status === 401) return null;
      throw e;
    }
  }
  updateProfile(req: UpdateProfileRequest) {
    return this.request<OwnUser>('PATCH', '/api/users/me', req);
  }
  async changePassword(req: ChangePasswordRequest) {
    await this.request('POST', '/api/users/me/password', req);
  }
  async changeEmail(req: ChangeEmailRequest) {
    await this.request('POST', '/api/users/me/email', req);
  }
  listSessions() {
    return this.request<SessionInfo[]>('GET', '/api/sessions');
  }
  deleteAccount(req: DeleteAccountRequest) {
    return this.request<AccountDeleted>('DELETE', '/api/users/me', req);
  }
  exportData() {
    return this.download('/api/users/me/export', 'cromulent-export.json');
  }
  async revokeSession(id: Id) {
    await this.request('DELETE', `/api/sessions/${enc(id)}`);
  }

  listUsers() {
    return this.request<User[]>('GET', '/api/users');
  }
  setRole(userId: Id, req: SetRoleRequest) {
    return this.request<User>('PATCH', `/api/users/${enc(userId)}/role`, req);
  }
  createUser(req: CreateUserRequest) {
    return this.request<OwnUser>('POST', '/api/admin/users', req);
  }
  deleteUser(userId: Id, req: AdminDeleteUserRequest) {
    return this.request<AccountDeleted>('DELETE', `/api/admin/users/${enc(userId)}`, req);
  }

  listChannels() {
    return this.request<ChannelListEntry[]>('GET', '/api/channels');
  }
  createChannel(req: CreateChannelRequest) {
    return this.request<Channel>('POST', '/api/channels', req);
  }
  updateChannel(id: Id, req: UpdateChannelRequest) {
    return this.request<Channel>('PATCH', `/api/channels/${enc(id)}`, req);
  }
  async deleteChannel(id: Id) {
    await this.request('DELETE', `/api/channels/${enc(id)}`);
  }
  async joinChannel(id: Id) {
    await this.request('POST', `/api/channels/${enc(id)}/join`);
  }
  async leaveChannel(id: Id) {
    await this.request('POST', `/api/channels/${enc(id)}/leave`);
  }
  listMembers(channelId: Id, page: ListMembersQuery = {}) {
    return this.request<ChannelMember[]>('GET', `/api/channels/${enc(channelId)}/members${queryString(page)}`);
  }
  addMember(channelId: Id, userId: Id) {
    return this.request<ChannelMember>('PUT', `/api/channels/${enc(channelId)}/members/${enc(userId)}`);
  }
  async removeMember(channelId: Id, userId: Id) {
    await this.request('DELETE', `/api/channels/${enc(channelId)}/members/${enc(userId)}`);
  }
  updateNotificationSettings(channelId: Id, req: UpdateNotificationSettingsRequest) {
    return this.request<ChannelNotificationSettings>('PUT', `/api/channels/${enc(channelId)}/notification_settings`, req);
  }

  listMessages(channelId: Id, page: ListMessagesQuery = {}) {
    return this.request<Message[]>('GET', `/api/channels/${enc(channelId)}/messages${queryString(page)}`);
  }
  sendMessage(channelId: Id, req: SendMessageRequest) {
    return this.request<Message>('POST', `/api/channels/${enc(channelId)}/messages`, req);
  }
  editMessage(id: Id, req: EditMessageRequest) {
    return this.request<Message>('PATCH', `/api/messages/${enc(id)}`, req);
  }
  async deleteMessage(id: Id) {
    await this.request('DELETE', `/api/messages/${enc(id)}`);
  }
  async addReaction(messageId: Id, emoji: string) {
    await this.request('PUT', `/api/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }
  async removeReaction(messageId: Id, emoji: string) {
    await this.request('DELETE', `/api/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }
  listPins(channelId: Id) {
    return this.request<Pin[]>('GET', `/api/channels/${enc(channelId)}/pins`);
  }
  async pinMessage(channelId: Id, messageId: Id) {
    await this.request('PUT', `/api/channels/${enc(channelId)}/pins/${enc(messageId)}`);
  }
  async unpinMessage(channelId: Id, messageId: Id) {
    await this.request('DELETE', `/api/channels/${enc(channelId)}/pins/${enc(messageId)}`);
  }
  searchMessages(query: SearchQuery) {
    return this.request<SearchHit[]>('GET', `/api/search${queryString(query)}`);
  }
  ack(channelId: Id, req: AckRequest) {
    return this.request<ReadState>('POST', `/api/channels/${enc(channelId)}/ack`, req);
  }

  uploadAttachment(channelId: Id, file: File, opts: UploadOptions = {}): Promise<Attachment> {
    return new Promise<Attachment>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new BackendError(0, null, 'upload cancelled'));
      const xhr = this.newXhr();
      xhr.open('POST', `${this.serverUrl}/api/channels/${enc(channelId)}/attachments`);
      xhr.withCredentials = !!this.serverUrl;
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      const onAbort = () => xhr.abort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      xhr.onload = () => {
        done();
        let parsed: unknown = null;
        try {
          parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          parsed = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(parsed as Attachment);
        else reject(failure(xhr.status, parsed));
      };
      xhr.onerror = () => {
        done();
        reject(new BackendError(0, null, 'cannot reach the server'));
      };
      xhr.onabort = () => {
        done();
        reject(new BackendError(0, null, 'upload cancelled'));
      };
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    });
  }

  async attachmentSrc(url: string): Promise<string> {
    // Same origin: the session cookie goes with the image request, nothing to add.
    return url.startsWith('/') ? this.serverUrl + url : url;
  }

  pickFiles(): Promise<File[]> {
    return new Promise((resolve) => {
      const input = document.createElement('input');
      input.type = 'file';
      input.multiple = true;
      input.hidden = true;
      input.dataset.testid = 'file-picker';
      const finish = (files: File[]) => {
        input.remove();
        resolve(files);
      };
      input.addEventListener('change', () => finish(Array.from(input.files ?? [])), { once: true });
      input.addEventListener('cancel', () => finish([]), { once: true });
      document.body.append(input);
      input.click();
    });
  }

  listNotifications(query: ListNotificationsQuery = {}) {
    // `unread_only=false` is the server's default: left out, as it always was.
    const { unread_only, ...rest } = query;
    return this.request<Notification[]>('GET', `/api/notifications${queryString(unread_only ? query : rest)}`);
  }
  async markNotificationRead(id: Id) {
    await this.request('POST', `/api/notifications/${enc(id)}/read`);
  }
  async markAllNotificationsRead() {
    await this.request('POST', '/api/notifications/read_all');
  }

  listGroups() {
    return this.request<Group[]>('GET', '/api/groups');
  }
  createGroup(req: CreateGroupRequest) {
    return this.request<Group>('POST', '/api/groups', req);
  }
  updateGroup(id: Id, req: UpdateGroupRequest) {
    return this.request<Group>('PATCH', `/api/groups/${enc(id)}`, req);
  }
  async deleteGroup(id: Id) {
    await this.request('DELETE', `/api/groups/${enc(id)}`);
  }

  featureFlags() {
    return this.request<FeatureFlags>('GET', '/api/feature_flags');
  }
  updateFeatureFlags(req: UpdateFeatureFlagsRequest) {
    return this.request<FeatureFlags>('PATCH', '/api/admin/feature_flags', req);
  }

  registrationInfo() {
    return this.request<RegistrationInfo>('GET', '/api/registration');
  }
  createInvite(req: CreateInviteRequest) {
    return this.request<CreatedInvite>('POST', '/api/invites', req);
  }
  listInvites() {
    return this.request<Invite[]>('GET', '/api/invites');
  }
  revokeInvite(id: Id) {
    return this.request<Invite>('DELETE', `/api/invites/${enc(id)}`);
  }

  timeoutUser(userId: Id, req: TimeoutRequest) {
    return this.request<Timeout>('POST', `/api/admin/users/${enc(userId)}/timeout`, req);
  }
  async liftTimeout(userId: Id) {
    await this.request('DELETE', `/api/admin/users/${enc(userId)}/timeout`);
  }
  banUser(userId: Id, req: BanRequest) {
    return this.request<BanResult>('POST', `/api/admin/users/${enc(userId)}/ban`, req);
  }
  async unbanUser(userId: Id) {
    await this.request('DELETE', `/api/admin/users/${enc(userId)}/ban`);
  }
  openDm(req: OpenDmRequest) {
    return this.request<DirectMessage>('POST', '/api/dms', req);
  }
  listDms() {
    return this.request<DirectMessage[]>('GET', '/api/dms');
  }
  listBlocks() {
    return this.request<Block[]>('GET', '/api/users/me/blocks');
  }
  blockUser(userId: Id) {
    return this.request<Block>('PUT', `/api/users/me/blocks/${enc(userId)}`);
  }
  async unblockUser(userId: Id) {
    await this.request('DELETE', `/api/users/me/blocks/${enc(userId)}`);
  }
  moderationState() {
    return this.request<ModerationState>('GET', '/api/admin/moderation');
  }
  auditLog(query?: AuditLogQuery) {
    return this.request<AuditEntry[]>('GET', `/api/admin/audit_log${queryString(query ?? {})}`);
  }

  linkPreview(query: LinkPreviewQuery) {
    return this.request<LinkPreview>('GET', `/api/link_preview${queryString(query)}`);
  }

  voicePreferences() {
    return this.request<VoicePreferences>('GET', '/api/voice/preferences');
  }
  updateVoicePreferences(req: UpdateVoicePreferencesRequest) {
    return this.request<VoicePreferences>('PATCH', '/api/voice/preferences', req);
  }
  voiceSettings() {
    return this.request<VoiceSettings>('GET', '/api/admin/voice/settings');
  }
  updateVoiceSettings(req: UpdateVoiceSettingsRequest) {
    return this.request<VoiceSettings>('PATCH', '/api/admin/voice/settings', req);
  }
  voiceSelfTest() {
    return this.request<SelfTestReport>('POST', '/api/admin/voice/self-test');
  }

  gatewayUrl(): string {
    if (this.serverUrl) return this.serverUrl.replace(/^http/, 'ws') + '/api/gateway';
    const scheme = this.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${this.location.host}/api/gateway`;
  }

  connect(handlers: GatewayHandlers): Gateway {
    return new GatewayConnection(
      {
        url: this.gatewayUrl(),
        openSocket: this.openSocket,
        setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
        clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
        random: Math.random,
      },
      handlers,
    );
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

/** `?key=value&...` for a query type's set fields, in their order; '' when none is set. */
function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}

/** The error a failed answer becomes: typed when the body is the API's `{code, message}`. */
function failure(status: number, parsed: unknown): BackendError {
  const err = parsed && typeof parsed === 'object' && 'code' in parsed ? (parsed as ApiError) : null;
  return new BackendError(status, err, `the server answered ${status}`);
}
