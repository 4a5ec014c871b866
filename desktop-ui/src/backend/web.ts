// The browser's Backend: REST with the HttpOnly session cookie, the gateway over a
// WebSocket to the same origin. `fetch` and `WebSocket` are injectable for tests.

import type { ApiError } from '../generated/ApiError';
import type { Channel } from '../generated/Channel';
import type { ChannelListEntry } from '../generated/ChannelListEntry';
import type { CreatedInvite } from '../generated/CreatedInvite';
import type { FeatureFlags } from '../generated/FeatureFlags';
import type { Invite } from '../generated/Invite';
import type { RegistrationInfo } from '../generated/RegistrationInfo';
import type { Group } from '../generated/Group';
import type { Id } from '../generated/Id';
import type { LinkPreview } from '../generated/LinkPreview';
import type { Message } from '../generated/Message';
import type { Notification } from '../generated/Notification';
import type { OwnUser } from '../generated/OwnUser';
import type { ReadState } from '../generated/ReadState';
import type { RegisterResponse } from '../generated/RegisterResponse';
import type { ResendConfirmationRequest } from '../generated/ResendConfirmationRequest';
import type { SessionInfo } from '../generated/SessionInfo';
import type { SessionLoginResponse } from '../generated/SessionLoginResponse';
import type { User } from '../generated/User';
import type { SelfTestReport } from '../generated/SelfTestReport';
import type { VoicePreferences } from '../generated/VoicePreferences';
import type { VoiceSettings } from '../generated/VoiceSettings';
import { GatewayConnection, type SocketLike } from './gateway';
import { BackendError, type Backend, type Gateway, type GatewayHandlers, type MessagePage } from './index';

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface WebBackendOptions {
  /** '' for the origin the page came from. */
  serverUrl?: string;
  fetch?: FetchLike;
  openSocket?: (url: string) => SocketLike;
  /** Page origin, used to build the gateway URL when serverUrl is ''. */
  location?: { protocol: string; host: string };
}

export class WebBackend implements Backend {
  readonly serverUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly openSocket: (url: string) => SocketLike;
  private readonly location: { protocol: string; host: string };

  constructor(opts: WebBackendOptions = {}) {
    this.serverUrl = (opts.serverUrl ?? '').replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.openSocket = opts.openSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.location = opts.location ?? globalThis.location;
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
    if (!response.ok) {
      const err = parsed && typeof parsed === 'object' && 'code' in parsed ? (parsed as ApiError) : null;
      throw new BackendError(response.status, err, `the server answered ${response.status}`);
    }
    return parsed as T;
  }

  register(req: { email: string; username: string; password: string; invite_code?: string }) {
    return this.request<RegisterResponse>('POST', '/api/auth/register', req);
  }
  async confirmAccount(token: string) {
    await this.request('POST', '/api/auth/confirm', { token });
  }
  async confirmEmail(token: string) {
    await this.request('POST', '/api/auth/confirm_email', { token });
  }
  async logIn(email: string, password: string) {
    const res = await this.request<SessionLoginResponse>('POST', '/api/auth/session', { email, password });
    return res.user;
  }
  async logOut() {
    await this.request('DELETE', '/api/auth/session');
  }
  async forgotPassword(email: string) {
    await this.request('POST', '/api/auth/forgot_password', { email });
  }
  async resendConfirmation(email: string) {
    const body: ResendConfirmationRequest = { email };
    await this.request('POST', '/api/auth/resend_confirmation', body);
  }
  async resetPassword(token: string, password: string) {
    await this.request('POST', '/api/auth/reset_password', { token, password });
  }

  async me() {
    try {
      return await this.request<OwnUser>('GET', '/api/users/me');
    } catch (e) {
      if (e instanceof BackendError && e.status === 401) return null;
      throw e;
    }
  }
  updateProfile(req: object) {
    return this.request<OwnUser>('PATCH', '/api/users/me', req);
  }
  async changePassword(req: object) {
    await this.request('POST', '/api/users/me/password', req);
  }
  async changeEmail(req: object) {
    await this.request('POST', '/api/users/me/email', req);
  }
  listSessions() {
    return this.request<SessionInfo[]>('GET', '/api/sessions');
  }
  async revokeSession(id: Id) {
    await this.request('DELETE', `/api/sessions/${enc(id)}`);
  }

  listUsers() {
    return this.request<User[]>('GET', '/api/users');
  }
  setRole(userId: Id, role: string) {
    return this.request<User>('PATCH', `/api/users/${enc(userId)}/role`, { role });
  }
  createUser(req: object) {
    return this.request<OwnUser>('POST', '/api/admin/users', req);
  }

  listChannels() {
    return this.request<ChannelListEntry[]>('GET', '/api/channels');
  }
  createChannel(req: object) {
    return this.request<Channel>('POST', '/api/channels', req);
  }
  updateChannel(id: Id, req: object) {
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

  listMessages(channelId: Id, page: MessagePage = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(page)) {
      if (value !== undefined) query.set(key, String(value));
    }
    const qs = query.toString();
    return this.request<Message[]>('GET', `/api/channels/${enc(channelId)}/messages${qs ? `?${qs}` : ''}`);
  }
  sendMessage(channelId: Id, body: string, nonce: string) {
    return this.request<Message>('POST', `/api/channels/${enc(channelId)}/messages`, { body, nonce });
  }
  editMessage(id: Id, body: string) {
    return this.request<Message>('PATCH', `/api/messages/${enc(id)}`, { body });
  }
  async deleteMessage(id: Id) {
    await this.request('DELETE', `/api/messages/${enc(id)}`);
  }
  ack(channelId: Id, messageId: Id) {
    return this.request<ReadState>('POST', `/api/channels/${enc(channelId)}/ack`, { message_id: messageId });
  }

  listNotifications(opts: { unreadOnly?: boolean; before?: Id } = {}) {
    const query = new URLSearchParams();
    if (opts.unreadOnly) query.set('unread_only', 'true');
    if (opts.before) query.set('before', opts.before);
    const qs = query.toString();
    return this.request<Notification[]>('GET', `/api/notifications${qs ? `?${qs}` : ''}`);
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
  createGroup(req: object) {
    return this.request<Group>('POST', '/api/groups', req);
  }
  updateGroup(id: Id, req: object) {
    return this.request<Group>('PATCH', `/api/groups/${enc(id)}`, req);
  }
  async deleteGroup(id: Id) {
    await this.request('DELETE', `/api/groups/${enc(id)}`);
  }

  featureFlags() {
    return this.request<FeatureFlags>('GET', '/api/feature_flags');
  }
  updateFeatureFlags(req: object) {
    return this.request<FeatureFlags>('PATCH', '/api/admin/feature_flags', req);
  }

  registrationInfo() {
    return this.request<RegistrationInfo>('GET', '/api/registration');
  }
  createInvite(req: object) {
    return this.request<CreatedInvite>('POST', '/api/invites', req);
  }
  listInvites() {
    return this.request<Invite[]>('GET', '/api/invites');
  }
  revokeInvite(id: Id) {
    return this.request<Invite>('DELETE', `/api/invites/${enc(id)}`);
  }

  linkPreview(url: string) {
    return this.request<LinkPreview>('GET', `/api/link_preview?${new URLSearchParams({ url })}`);
  }

  voicePreferences() {
    return this.request<VoicePreferences>('GET', '/api/voice/preferences');
  }
  updateVoicePreferences(req: object) {
    return this.request<VoicePreferences>('PATCH', '/api/voice/preferences', req);
  }
  voiceSettings() {
    return this.request<VoiceSettings>('GET', '/api/admin/voice/settings');
  }
  updateVoiceSettings(req: object) {
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
