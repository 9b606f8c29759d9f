// Stylesheets imported by the pages that need them (Vite bundles them with their chunk).
declare module "*.css";
