// Entry point: builds the shell and starts the router.
import { buildLayout } from './ui/layout.js';
import { initToasts } from './ui/toast.js';
import { startRouter } from './router.js';

const { main } = buildLayout(document.getElementById('app'));
initToasts();
startRouter(main);
