/**
 * jobwire's live dashboard. Bundled by scripts/build-dashboard.js into dist/dashboard/ and served
 * at `/` by src/server/dashboard.ts. Nothing here may load from a CDN: the page has to work on an
 * air-gapped network. It talks to the gateway only through the public API (the typed client of
 * client/: HTTP POST /graphql, graphql-ws subscriptions on the same path) and never polls.
 */
import './dashboard.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';

const container = document.getElementById('root');
if (!container) throw new Error('jobwire dashboard: #root element missing from index.html');

createRoot(container).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
