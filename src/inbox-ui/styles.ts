/** The dark theme's colours: used when the system prefers dark (unless theme=light) and for theme=dark. */
const DARK_PALETTE = `
  --herald-accent: #8b93ff;
  --herald-accent-fg: #0f1117;
  --herald-bg: #181b22;
  --herald-fg: #e8eaef;
  --herald-muted: #a3aab6;
  --herald-border: #2c313c;
  --herald-hover: #21252e;
  --herald-unread-bg: #1f2236;
  --herald-unread-dot: #8b93ff;
  --herald-warning-bg: #3a2c10;
  --herald-warning-fg: #ffd58a;
  --herald-error-fg: #ff8f85;
  --herald-shadow: 0 18px 48px rgba(0, 0, 0, 0.5), 0 2px 6px rgba(0, 0, 0, 0.4);
`;

/** The shadow-DOM stylesheet of `<herald-inbox>`: every colour and size is a `--herald-*` custom property. */
export const INBOX_CSS = `
:host {
  --herald-font: system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', sans-serif;
  --herald-accent: #4f46e5;
  --herald-accent-fg: #ffffff;
  --herald-bg: #ffffff;
  --herald-fg: #111827;
  --herald-muted: #5b6472;
  --herald-border: #e5e7eb;
  --herald-hover: #f5f6fa;
  --herald-unread-bg: #f3f4ff;
  --herald-unread-dot: #4f46e5;
  --herald-badge-bg: #e11d48;
  --herald-badge-fg: #ffffff;
  --herald-warning-bg: #fff7e6;
  --herald-warning-fg: #7a4b00;
  --herald-error-fg: #b42318;
  --herald-radius: 14px;
  --herald-panel-width: 400px;
  --herald-panel-height: 560px;
  --herald-shadow: 0 18px 48px rgba(17, 24, 39, 0.18), 0 2px 6px rgba(17, 24, 39, 0.08);
  --herald-bell-color: currentColor;
  --herald-bell-size: 40px;
  display: inline-block;
  position: relative;
  font-family: var(--herald-font);
  font-size: 14px;
  line-height: 1.45;
  color: var(--herald-fg);
}
@media (prefers-color-scheme: dark) {
  :host(:not([theme=light])) {${DARK_PALETTE}  }
}
:host([theme=dark]) {${DARK_PALETTE}}
:host([layout=inline]) { display: block; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; cursor: pointer; }
button:focus-visible, [tabindex]:focus-visible { outline: 2px solid var(--herald-accent); outline-offset: 2px; }

.bell {
  position: relative; display: inline-grid; place-items: center;
  width: var(--herald-bell-size); height: var(--herald-bell-size);
  border: 0; border-radius: 999px; background: transparent; color: var(--herald-bell-color); padding: 0;
  transition: background 120ms ease;
}
.bell:hover, .bell[aria-expanded=true] { background: color-mix(in srgb, currentColor 10%, transparent); }
.bell svg { width: 22px; height: 22px; fill: currentColor; }
.bell.ring svg { animation: ring 700ms ease; transform-origin: 50% 10%; }
@keyframes ring { 0%,100% { transform: rotate(0); } 20% { transform: rotate(14deg); } 40% { transform: rotate(-12deg); } 60% { transform: rotate(8deg); } 80% { transform: rotate(-4deg); } }
@media (prefers-reduced-motion: reduce) { .bell.ring svg { animation: none; } }
.badge {
  position: absolute; top: 3px; inset-inline-end: 1px;
  min-width: 18px; height: 18px; padding: 0 5px; border-radius: 999px;
  background: var(--herald-badge-bg); color: var(--herald-badge-fg);
  font-size: 11px; font-weight: 700; line-height: 18px; text-align: center;
  box-shadow: 0 0 0 2px var(--herald-bg); font-variant-numeric: tabular-nums;
  transition: opacity 160ms ease, transform 160ms ease;
}
/* Zero stays in the layout (its text is still the count) and pops in when something arrives. */
.badge[data-count="0"] { opacity: 0; transform: scale(0.4); }

.panel {
  position: absolute; top: calc(100% + 8px); inset-inline-end: 0; z-index: 2147483000;
  width: min(var(--herald-panel-width), calc(100vw - 16px)); max-height: min(var(--herald-panel-height), calc(100vh - 96px));
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--herald-bg); color: var(--herald-fg);
  border: 1px solid var(--herald-border); border-radius: var(--herald-radius); box-shadow: var(--herald-shadow);
  text-align: start;
}
:host([layout=inline]) .root { position: relative; }
:host([layout=inline]) .bell { position: absolute; top: 10px; inset-inline-start: 10px; z-index: 1; }
:host([layout=inline]) .panel { position: static; width: 100%; max-height: var(--herald-panel-height); min-height: 280px; box-shadow: none; }
:host([layout=inline]) .header { padding-inline-start: 58px; }
:host([layout=inline]) .close { display: none; }

.header { display: flex; align-items: center; gap: 8px; padding: 14px 16px 10px; }
.title { margin: 0; font-size: 16px; font-weight: 700; flex: 1; letter-spacing: -0.01em; }
.link-button {
  border: 0; background: transparent; color: var(--herald-accent); font-weight: 600; font-size: 13px;
  padding: 6px 8px; border-radius: 8px;
}
.link-button:hover:not(:disabled) { background: var(--herald-hover); }
.link-button:disabled { color: var(--herald-muted); cursor: default; opacity: 0.7; }
.close { display: none; border: 0; background: transparent; width: 32px; height: 32px; border-radius: 8px; padding: 0; }
.close svg { width: 18px; height: 18px; fill: currentColor; }

.tabs { display: flex; gap: 4px; padding: 0 12px; border-bottom: 1px solid var(--herald-border); overflow-x: auto; scrollbar-width: none; }
.tab {
  border: 0; background: transparent; padding: 8px 10px 10px; font-weight: 600; font-size: 13px; color: var(--herald-muted);
  border-bottom: 2px solid transparent; margin-bottom: -1px; white-space: nowrap; display: inline-flex; align-items: center; gap: 6px;
}
.tab[aria-selected=true] { color: var(--herald-fg); border-bottom-color: var(--herald-accent); }
.tab:hover { color: var(--herald-fg); }
.tab-count {
  min-width: 18px; padding: 0 6px; border-radius: 999px; font-size: 11px; line-height: 18px; text-align: center;
  background: var(--herald-hover); color: var(--herald-muted); font-variant-numeric: tabular-nums;
}
.tab[aria-selected=true] .tab-count { background: var(--herald-accent); color: var(--herald-accent-fg); }
.tab-count[data-count="0"] { display: none; }

.banner { margin: 8px 12px 0; padding: 8px 12px; border-radius: 10px; font-size: 13px; display: flex; align-items: center; gap: 8px; }
.banner.offline { background: var(--herald-warning-bg); color: var(--herald-warning-fg); }
.banner.error { background: color-mix(in srgb, var(--herald-error-fg) 12%, transparent); color: var(--herald-error-fg); }
.banner .link-button { margin-inline-start: auto; }

.scroller { flex: 1 1 auto; min-height: 120px; overflow-y: auto; overscroll-behavior: contain; }
.feed { display: flex; flex-direction: column; padding: 6px 0; }
.item { position: relative; border-bottom: 1px solid var(--herald-border); padding: 12px 16px 12px 16px; transition: background 120ms ease; }
.item:last-child { border-bottom: 0; }
.item:hover, .item:focus-within { background: var(--herald-hover); }
.item.unread { background: var(--herald-unread-bg); }
.item.unread:hover, .item.unread:focus-within { background: color-mix(in srgb, var(--herald-unread-bg) 70%, var(--herald-hover)); }
.item-main {
  display: grid; grid-template-columns: 40px 1fr auto; gap: 12px; align-items: start; width: 100%;
  border: 0; background: transparent; padding: 0; text-align: start; border-radius: 8px;
}
.avatar, .item img { width: 40px; height: 40px; border-radius: 10px; object-fit: cover; }
.avatar { display: grid; place-items: center; font-weight: 700; color: var(--herald-accent-fg); background: var(--herald-accent); font-size: 16px; }
.text { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.heading { font-weight: 650; font-size: 14px; overflow-wrap: anywhere; }
.content { color: var(--herald-fg); opacity: 0.86; overflow-wrap: anywhere; white-space: pre-line; }
.item.opened .heading { font-weight: 550; }
.meta { color: var(--herald-muted); font-size: 12px; margin-top: 2px; }
.dot { width: 9px; height: 9px; border-radius: 999px; background: var(--herald-unread-dot); margin-top: 6px; }
.item.opened .dot { visibility: hidden; }
.buttons { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 10px; padding-inline-start: 52px; }
.action {
  border: 1px solid var(--herald-border); background: var(--herald-bg); border-radius: 8px; padding: 5px 12px;
  font-size: 13px; font-weight: 600;
}
.action.primary { background: var(--herald-accent); border-color: var(--herald-accent); color: var(--herald-accent-fg); }
.action:hover { filter: brightness(0.97); }
.action.pressed { opacity: 0.6; }
.tools {
  position: absolute; top: 8px; inset-inline-end: 10px; display: flex; gap: 2px; opacity: 0;
  background: var(--herald-bg); border: 1px solid var(--herald-border); border-radius: 9px; padding: 2px;
  box-shadow: 0 2px 8px rgba(17, 24, 39, 0.08); transition: opacity 120ms ease;
}
.item:hover .tools, .item:focus-within .tools, .tools.menu-open { opacity: 1; }
@media (hover: none) { .tools { opacity: 1; top: auto; bottom: 6px; border: 0; box-shadow: none; background: transparent; } }
.tool { border: 0; background: transparent; width: 30px; height: 30px; border-radius: 7px; display: grid; place-items: center; padding: 0; color: var(--herald-muted); }
.tool:hover { background: var(--herald-hover); color: var(--herald-fg); }
.tool svg { width: 17px; height: 17px; fill: currentColor; }
.menu {
  position: fixed; z-index: 2147483001; min-width: 180px; padding: 4px;
  background: var(--herald-bg); border: 1px solid var(--herald-border); border-radius: 10px; box-shadow: var(--herald-shadow);
  display: flex; flex-direction: column;
}
.menu button { border: 0; background: transparent; text-align: start; padding: 8px 10px; border-radius: 7px; font-size: 13px; }
.menu button:hover, .menu button:focus { background: var(--herald-hover); outline: none; }

.empty { flex: 1; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 6px; padding: 48px 24px; text-align: center; color: var(--herald-muted); }
.empty svg { width: 44px; height: 44px; fill: var(--herald-border); margin-bottom: 6px; }
.empty strong { color: var(--herald-fg); font-size: 15px; }
.more { display: flex; justify-content: center; padding: 8px 0 14px; }
.sentinel { height: 1px; }
.status-line { padding: 24px; text-align: center; color: var(--herald-muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

@media (max-width: 520px) {
  :host(:not([layout=inline])) .panel {
    position: fixed; inset: 0; width: 100vw; height: 100dvh; max-height: none; border-radius: 0; border: 0; top: 0;
  }
  :host(:not([layout=inline])) .close { display: grid; place-items: center; }
  .header { padding-top: 16px; }
  .item { padding: 14px 14px; }
  .tools { opacity: 1; top: auto; bottom: 6px; border: 0; box-shadow: none; background: transparent; }
}
`;
