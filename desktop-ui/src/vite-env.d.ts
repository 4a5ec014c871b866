/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_SERVER_PICKER?: string;
}
