/**
 * The engine's only door to @peculiar/x509. Its decorators need reflect-metadata loaded first, and
 * imports evaluate in order, so every file here imports the library through this module.
 */
import "reflect-metadata";
export * from "@peculiar/x509";
