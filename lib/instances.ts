import type { Request } from 'express';
import type { Internals } from './context.js';
import { RelyingPartyError } from './errors.js';

/**
 * The `relyingParty()` instances of an app, by `name`, as requests pass
 * them: several providers side by side share one `req.auth`, which finds
 * the instance the user signed in with here, so its tokens only ever go to
 * the provider that issued them. Kept per Express app (`req.app`), so two
 * apps in one process never see each other's instances.
 */
const byApp = new WeakMap<object, Map<string, Internals>>();
const noApp = {};

function instancesOf(req: Request): Map<string, Internals> {
  const app = (req.app as object | undefined) ?? noApp;
  let instances = byApp.get(app);
  if (!instances) {
    instances = new Map();
    byApp.set(app, instances);
  }
  return instances;
}

function routePaths(internals: Internals): (string | false)[] {
  const { routes } = internals.config;
  return [routes.login, routes.callback, routes.backchannelLogout];
}

/**
 * Records `internals` as the app's instance of its name. Two different
 * instances under one name, or two that answer the same login, callback or
 * back-channel route, would mix up their logins: `invalid_options`.
 */
export function register(req: Request, internals: Internals): void {
  const instances = instancesOf(req);
  const { name } = internals.config;
  const known = instances.get(name);
  if (known === internals) return;
  if (known !== undefined) {
    throw new RelyingPartyError(
      'invalid_options',
      `Two relyingParty() instances named "${name}" handled the same request: they would share one session slot and mix up their tokens. Give each provider its own \`name\` (and its own routes), or mount one relyingParty().`,
    );
  }
  for (const other of instances.values()) {
    const shared = routePaths(internals).find((path) => path !== false && routePaths(other).includes(path));
    if (shared !== undefined) {
      throw new RelyingPartyError(
        'invalid_options',
        `relyingParty() instances "${other.config.name}" and "${name}" both answer ${shared}: give each provider its own routes (login, callback, backchannelLogout; logout may be shared).`,
      );
    }
  }
  instances.set(name, internals);
}

/** The app's instance called `name`, once a request has passed it. */
export function instanceNamed(req: Request, name: string): Internals | undefined {
  return byApp.get((req.app as object | undefined) ?? noApp)?.get(name);
}
