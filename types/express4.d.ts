/**
 * `express4` is Express 4 installed under an npm alias, so the tests can
 * run the same app on Express 4 and 5. Its API as the tests use it
 * (`express()`, `use`, `get`, `post`, error handlers) is the same in both, so
 * it borrows Express 5's typings.
 */
declare module 'express4' {
  import express from 'express';

  export default express;
}
