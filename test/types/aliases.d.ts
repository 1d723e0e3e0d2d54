// The conformance table runs Express 4 and Koa 2 installed under aliases; they share the types of
// the current majors for the calls the tests make. (`export =` modules are re-declared with import = require.)
/* eslint-disable @typescript-eslint/no-require-imports */
declare module 'express4' {
  import express = require('express');
  export = express;
}
declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}
declare module 'fastify4' {
  import fastify = require('fastify');
  export = fastify;
}
