// Entry point: builds the shell, learns who is signed in, starts the router.
import { buildLayout } from './ui/layout.js';
import { initToasts, showError } from './ui/toast.js';
import { loadSession } from './auth.js';
import { startRouter } from './router.js';

const { main } = buildLayout(document.getElementById('app'));
initToasts();
main.setAttribute('aria-busy', 'true');
// Signed out (401) is not an error: the router sends the visitor to sign in.
const { error } = await loadSession();
if (error) showError(error, 'Checking your session failed');
startRouter(main);
